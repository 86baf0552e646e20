/**
 * SHA-256 from the system's OpenSSL (libcrypto.so.3) through FFI: native and incremental, without loading
 * Deno's node:crypto polyfill, whose start-up alone costs about as much as the hashing of a kernel and initrd
 * (about 0.5 s under QEMU/TCG). `undefined` when libcrypto is absent or FFI is not permitted; callers fall back to
 * node:crypto then.
 *
 * @module
 */

import { ffiGranted } from "./libc.ts";

/**
 * The low-level SHA256_* calls first: OpenSSL 3 keeps them (deprecated, not removed) and they run the same
 * assembly (SHA-NI where the CPU has it) without starting the provider machinery that EVP_* needs, which costs
 * about 2.5 MB of resident memory and a millisecond here. EVP_* where a build lacks them.
 */
const SYMBOLS = {
  SHA256_Init: { parameters: ["buffer"], result: "i32", optional: true },
  SHA256_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32", optional: true },
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32", optional: true },
  EVP_MD_CTX_new: { parameters: [], result: "pointer", optional: true },
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void", optional: true },
  EVP_sha256: { parameters: [], result: "pointer", optional: true },
  EVP_DigestInit_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32", optional: true },
  EVP_DigestUpdate: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  EVP_DigestFinal_ex: { parameters: ["pointer", "buffer", "pointer"], result: "i32", optional: true },
} as const;

/** sizeof(SHA256_CTX) is 112 bytes (8 words of state, two length words, a 64-byte block, two counters); room to spare. */
const SHA256_CTX_BYTES = 128;

/** An incremental SHA-256. */
export interface Sha256 {
  update(bytes: Uint8Array): void;
  /** The 32-byte digest; the hasher cannot be used afterwards. */
  digest(): Uint8Array;
}

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Symbols | null | undefined;

function open(): Symbols | null {
  if (lib === undefined) {
    lib = null;
    if (ffiGranted()) {
      try {
        const symbols = Deno.dlopen("libcrypto.so.3", SYMBOLS).symbols;
        if ((symbols.SHA256_Init && symbols.SHA256_Update && symbols.SHA256_Final) || symbols.EVP_DigestInit_ex) {
          lib = symbols;
        }
      } catch {
        // not installed
      }
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
  if (c.SHA256_Init && c.SHA256_Update && c.SHA256_Final) {
    const [init, update, final] = [c.SHA256_Init, c.SHA256_Update, c.SHA256_Final];
    const ctx = new Uint8Array(SHA256_CTX_BYTES);
    if (init(ctx) !== 1) return undefined;
    return {
      update(bytes) {
        if (bytes.length && update(ctx, bytes as Uint8Array<ArrayBuffer>, BigInt(bytes.length)) !== 1) {
          throw new Error("SHA256_Update failed");
        }
      },
      digest() {
        const out = new Uint8Array(32);
        if (final(out, ctx) !== 1) throw new Error("SHA256_Final failed");
        return out;
      },
    };
  }
  return evpSha256(c);
}

function evpSha256(c: Symbols): Sha256 | undefined {
  const ctx = c.EVP_MD_CTX_new!();
  if (ctx === null || c.EVP_DigestInit_ex!(ctx, c.EVP_sha256!(), null) !== 1) {
    if (ctx !== null) c.EVP_MD_CTX_free!(ctx);
    return undefined;
  }
  return {
    update(bytes) {
      if (bytes.length && c.EVP_DigestUpdate!(ctx, bytes as Uint8Array<ArrayBuffer>, BigInt(bytes.length)) !== 1) {
        throw new Error("EVP_DigestUpdate failed");
      }
    },
    digest() {
      const out = new Uint8Array(32);
      const ok = c.EVP_DigestFinal_ex!(ctx, out, null);
      c.EVP_MD_CTX_free!(ctx);
      if (ok !== 1) throw new Error("EVP_DigestFinal_ex failed");
      return out;
    },
  };
}
