/**
 * The digest the purgatory verifies: SHA-256 over the segments it checks, each as loaded in memory (its bytes,
 * then zeros up to its memsz), in order. Same definition as the kernel's kexec_calculate_store_digests().
 *
 * @module
 */

import { createHash } from "node:crypto";
import { fail, hex } from "../errors.ts";

/** Zeros fed to the hash in chunks of this many bytes, so padding a large memsz costs no large allocation. */
const ZERO_CHUNK_BYTES = 1 << 20;
let zeroChunk: Uint8Array | undefined;

/**
 * SHA-256 over each part's bytes followed by zeros up to `len`, in order, hashed incrementally (node:crypto:
 * WebCrypto has no incremental API, and concatenating a 64 MiB initrd would double peak memory).
 *
 * @param parts each segment's contents (`buf`) and its length in memory (`len` bytes, >= buf.length)
 * @returns the 32-byte digest
 * @throws KexecError("invalid-plan") if some part's `len` is shorter than its `buf`
 */
export function computeDigest(parts: readonly { buf: Uint8Array; len: bigint }[]): Uint8Array {
  const hash = createHash("sha256");
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
  return new Uint8Array(hash.digest());
}
