/*
 * SHA-256 (FIPS 180-4) for the kexec-ts purgatory.
 *
 * Freestanding: no libc, no floating point, no SIMD. The same file is compiled for the host by
 * tests/unit/purgatory_sha256_test.ts and checked against node:crypto.
 */
#ifndef KEXEC_TS_SHA256_H
#define KEXEC_TS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_BLOCK_BYTES 64

/* Number of entries in sha256_regions: one per kexec segment (KEXEC_SEGMENT_MAX). */
#define SHA256_REGION_COUNT 16

struct sha256_ctx {
	uint32_t state[8];
	uint64_t total_bytes;              /* bytes fed so far */
	uint8_t block[SHA256_BLOCK_BYTES]; /* pending partial block */
	uint32_t block_used;               /* bytes used in block[] */
};

/* One hashed range of memory. Physical == virtual in purgatory (identity map). len == 0: unused. */
struct sha256_region {
	uint64_t start;
	uint64_t len;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_BYTES]);

/* Hashes every region with len != 0, in array order, as one message. */
void sha256_digest_regions(const struct sha256_region *regions, unsigned count,
			   uint8_t out[SHA256_DIGEST_BYTES]);

#endif
