/*
 * SHA-256 (FIPS 180-4) for the kexec-ts purgatory.
 *
 * Freestanding: no libc, no floating point. Two block compressions: the portable one (sha256.c, integer
 * registers only) and one with the CPU's SHA extensions (sha256_ni.c), which the caller may use only after
 * checking CPUID and enabling SSE (CR4.OSFXSR). Both files are compiled for the host by
 * tests/unit/purgatory/sha256_c_test.ts and checked against node:crypto.
 */
#ifndef KEXEC_TS_SHA256_H
#define KEXEC_TS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_BLOCK_BYTES 64

/* Number of entries in sha256_regions: one per kexec segment (KEXEC_SEGMENT_MAX). */
#define SHA256_REGION_COUNT 16

/* Which block compression a hash uses. */
enum sha256_impl {
	SHA256_PORTABLE = 0,
	SHA256_SHANI = 1, /* needs CPUID SHA + SSSE3 + SSE4.1 and CR4.OSFXSR set */
};

struct sha256_ctx {
	uint32_t state[8];
	enum sha256_impl impl;
	uint64_t total_bytes;              /* bytes fed so far */
	uint8_t block[SHA256_BLOCK_BYTES]; /* pending partial block */
	uint32_t block_used;               /* bytes used in block[] */
};

/* One hashed range of memory. Physical == virtual in purgatory (identity map). len == 0: unused. */
struct sha256_region {
	uint64_t start;
	uint64_t len;
};

/* The 64 round constants (FIPS 180-4 4.2.2), shared by both compressions. */
extern const uint32_t sha256_round_constants[64];

/* Compresses `blocks` 64-byte blocks at `data` into `state` with the SHA extensions (sha256_ni.c). */
void sha256_blocks_shani(uint32_t state[8], const uint8_t *data, size_t blocks);

void sha256_init(struct sha256_ctx *ctx, enum sha256_impl impl);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_BYTES]);

/* Hashes every region with len != 0, in array order, as one message. */
void sha256_digest_regions(const struct sha256_region *regions, unsigned count, enum sha256_impl impl,
			   uint8_t out[SHA256_DIGEST_BYTES]);

#endif
