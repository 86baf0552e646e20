/**
 * SHA-256 from the system's OpenSSL (libcrypto.so.3) through FFI: native and incremental, without loading
 * Deno's node:crypto polyfill, whose start-up alone costs about as much as the hashing of a kernel and initrd
 * (about 0.5 s under QEMU/TCG). `undefined` when libcrypto is absent or FFI is not permitted; callers fall back to
 * node:crypto then.
 *
 * @module
 */

const SYMBOLS = {
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_DigestInit_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  EVP_DigestUpdate: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  EVP_DigestFinal_ex: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
} as const;

/** An incremental SHA-256. */
export interface Sha256 {
  update(bytes: Uint8Array): void;
  /** The 32-byte digest; the hasher cannot be used afterwards. */
  digest(): Uint8Array;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null | undefined;

function open(): typeof lib {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libcrypto.so.3", SYMBOLS).symbols;
    } catch {
      lib = null; // not installed, or no --allow-ffi
    }
  }
  return lib;
}

/** Whether libcrypto.so.3 can be used. */
export function hasLibcrypto(): boolean {
  return open() !== null;
}

/** A libcrypto SHA-256 hasher, or `undefined` when libcrypto cannot be used. */
export function libcryptoSha256(): Sha256 | undefined {
  const c = open();
  if (!c) return undefined;
  const ctx = c.EVP_MD_CTX_new();
  if (ctx === null || c.EVP_DigestInit_ex(ctx, c.EVP_sha256(), null) !== 1) {
    if (ctx !== null) c.EVP_MD_CTX_free(ctx);
    return undefined;
  }
  return {
    update(bytes) {
      if (bytes.length && c.EVP_DigestUpdate(ctx, bytes as Uint8Array<ArrayBuffer>, BigInt(bytes.length)) !== 1) {
        throw new Error("EVP_DigestUpdate failed");
      }
    },
    digest() {
      const out = new Uint8Array(32);
      const ok = c.EVP_DigestFinal_ex(ctx, out, null);
      c.EVP_MD_CTX_free(ctx);
      if (ok !== 1) throw new Error("EVP_DigestFinal_ex failed");
      return out;
    },
  };
}
