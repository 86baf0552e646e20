/**
 * The digest the purgatory verifies: SHA-256 over the regions it checks, each a part's bytes followed by zeros up
 * to its length, in order.
 *
 * Hashed incrementally and natively: through the system's libcrypto (ffi/libcrypto.ts) when it is there, else
 * node:crypto, which is loaded only then (its start-up is as costly as the hashing itself). WebCrypto is no
 * option: it has no incremental API and copies its input, which for a 64 MiB initrd doubles peak memory.
 *
 * @module
 */

import { fail, hex } from "../errors.ts";
import { hasLibcrypto, libcryptoSha256, type Sha256 } from "../../ffi/libcrypto.ts";

/** node:crypto, imported only where libcrypto cannot be used (at start-up, so that hashing stays synchronous). */
const nodeCrypto = hasLibcrypto() ? undefined : await import("node:crypto");

/** A SHA-256 hasher: libcrypto's when available, node:crypto's otherwise. */
export function sha256Hasher(): Sha256 {
  const native = libcryptoSha256();
  if (native) return native;
  // libcrypto loaded (so node:crypto was not) but would not start a hash.
  if (!nodeCrypto) fail("io", "libcrypto is installed but could not start a SHA-256 hash (EVP_DigestInit_ex failed)");
  const h = nodeCrypto.createHash("sha256");
  return { update: (b) => void h.update(b), digest: () => new Uint8Array(h.digest()) };
}

/** SHA-256 of one buffer, as lowercase hex (for plans and logs). */
export function sha256Hex(bytes: Uint8Array): string {
  const h = sha256Hasher();
  h.update(bytes);
  return [...h.digest()].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Zeros fed to the hash in chunks of this many bytes, so padding a large memsz costs no large allocation. */
const ZERO_CHUNK_BYTES = 1 << 20;
let zeroChunk: Uint8Array | undefined;

/**
 * SHA-256 over each part's bytes followed by zeros up to `len`, in order, hashed incrementally.
 *
 * @param parts each segment's contents (`buf`) and its length in memory (`len` bytes, >= buf.length)
 * @returns the 32-byte digest
 * @throws KexecError("invalid-plan") if some part's `len` is shorter than its `buf`
 */
export function computeDigest(parts: readonly { buf: Uint8Array; len: bigint }[]): Uint8Array {
  const hash = sha256Hasher();
  parts.forEach((part, i) => {
    if (part.len < BigInt(part.buf.length)) {
      fail("invalid-plan", `digest part ${i}: len ${hex(part.len)} is shorter than its ${hex(part.buf.length)} bytes`);
    }
    hash.update(part.buf);
    let zeros = part.len - BigInt(part.buf.length);
    if (zeros > 0n) zeroChunk ??= new Uint8Array(ZERO_CHUNK_BYTES);
    while (zeros > 0n) {
      const n = zeros < BigInt(ZERO_CHUNK_BYTES) ? Number(zeros) : ZERO_CHUNK_BYTES;
      hash.update(zeroChunk!.subarray(0, n));
      zeros -= BigInt(n);
    }
  });
  return hash.digest();
}
