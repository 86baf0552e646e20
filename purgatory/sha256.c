/*
 * SHA-256 (FIPS 180-4), written for the kexec-ts purgatory.
 *
 * The portable compression uses only 32-bit integer arithmetic: the purgatory runs with CR4.OSFXSR clear,
 * so any SSE instruction would fault (and with no IDT, triple-fault the machine). The SHA-extension
 * compression (sha256_ni.c) is used instead when the caller asks for it (purgatory.c: only after CPUID
 * says the CPU has it and SSE was enabled).
 */
#include "sha256.h"

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes (FIPS 180-4 4.2.2). */
const uint32_t sha256_round_constants[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* First 32 bits of the fractional parts of the square roots of the first 8 primes (FIPS 180-4 5.3.3). */
static const uint32_t initial_state[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* A big-endian 32-bit word at any alignment (x86 loads unaligned words; bswap is one instruction). */
typedef uint32_t unaligned_u32 __attribute__((aligned(1), may_alias));

static inline uint32_t load_be32(const uint8_t *p)
{
	return __builtin_bswap32(*(const unaligned_u32 *)p);
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* FIPS 180-4 4.1.2: the four functions of the words. */
#define BIG_SIGMA0(x) (rotr((x), 2) ^ rotr((x), 13) ^ rotr((x), 22))
#define BIG_SIGMA1(x) (rotr((x), 6) ^ rotr((x), 11) ^ rotr((x), 25))
#define SMALL_SIGMA0(x) (rotr((x), 7) ^ rotr((x), 18) ^ ((x) >> 3))
#define SMALL_SIGMA1(x) (rotr((x), 17) ^ rotr((x), 19) ^ ((x) >> 10))

/*
 * Message word t, from a 16-word window: words 0-15 are the block's; word t >= 16 replaces word t - 16 in the
 * window, W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
 */
#define WORD(t)                                                                                          \
	((t) < 16 ? w[(t)]                                                                              \
		  : (w[(t) & 15] += SMALL_SIGMA1(w[((t) - 2) & 15]) + w[((t) - 7) & 15] +               \
				    SMALL_SIGMA0(w[((t) - 15) & 15])))

/*
 * Round t with the working variables named as they stand at that round: instead of shifting all eight
 * (h = g, g = f, ...), each round's caller rotates the names, and a round writes only d and h.
 * Ch(e,f,g) = g ^ (e & (f ^ g)) and Maj(a,b,c) = (a & b) | (c & (a | b)) save an operation each.
 */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                                 \
	do {                                                                                             \
		uint32_t t1 = (h) + BIG_SIGMA1(e) + ((g) ^ ((e) & ((f) ^ (g)))) +                         \
			      sha256_round_constants[(t)] + WORD(t);                                     \
		(d) += t1;                                                                               \
		(h) = t1 + BIG_SIGMA0(a) + (((a) & (b)) | ((c) & ((a) | (b))));                          \
	} while (0)

/*
 * Compresses one 64-byte block into the state. Fully unrolled (every index a constant, no moves between
 * rounds): about a fifth fewer instructions than a rolled loop, which is what counts where this runs slowest,
 * in an emulator without the SHA extensions.
 */
static void compress(uint32_t state[8], const uint8_t *block)
{
	uint32_t w[16];
	uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
	uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
	unsigned t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
#pragma GCC unroll 8
	for (t = 0; t < 64; t += 8) {
		ROUND(a, b, c, d, e, f, g, h, t + 0);
		ROUND(h, a, b, c, d, e, f, g, t + 1);
		ROUND(g, h, a, b, c, d, e, f, t + 2);
		ROUND(f, g, h, a, b, c, d, e, t + 3);
		ROUND(e, f, g, h, a, b, c, d, t + 4);
		ROUND(d, e, f, g, h, a, b, c, t + 5);
		ROUND(c, d, e, f, g, h, a, b, t + 6);
		ROUND(b, c, d, e, f, g, h, a, t + 7);
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
	state[5] += f;
	state[6] += g;
	state[7] += h;
}

/* Compresses `blocks` consecutive 64-byte blocks with the context's implementation. */
static void compress_blocks(struct sha256_ctx *ctx, const uint8_t *data, size_t blocks)
{
	if (ctx->impl == SHA256_SHANI) {
		sha256_blocks_shani(ctx->state, data, blocks);
		return;
	}
	for (; blocks != 0; blocks--, data += SHA256_BLOCK_BYTES)
		compress(ctx->state, data);
}

void sha256_init(struct sha256_ctx *ctx, enum sha256_impl impl)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		ctx->state[i] = initial_state[i];
	ctx->impl = impl;
	ctx->total_bytes = 0;
	ctx->block_used = 0;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	ctx->total_bytes += len;
	if (ctx->block_used != 0) {
		while (len != 0 && ctx->block_used < SHA256_BLOCK_BYTES) {
			ctx->block[ctx->block_used++] = *p++;
			len--;
		}
		if (ctx->block_used < SHA256_BLOCK_BYTES)
			return;
		compress_blocks(ctx, ctx->block, 1);
		ctx->block_used = 0;
	}
	if (len >= SHA256_BLOCK_BYTES) {
		compress_blocks(ctx, p, len / SHA256_BLOCK_BYTES);
		p += len - len % SHA256_BLOCK_BYTES;
		len %= SHA256_BLOCK_BYTES;
	}
	while (len != 0) {
		ctx->block[ctx->block_used++] = *p++;
		len--;
	}
}

void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_BYTES])
{
	uint64_t bit_length = ctx->total_bytes * 8;
	unsigned i;

	/* Padding: 0x80, zeros up to 56 mod 64, then the message length in bits, big-endian. */
	ctx->block[ctx->block_used++] = 0x80;
	if (ctx->block_used > SHA256_BLOCK_BYTES - 8) {
		while (ctx->block_used < SHA256_BLOCK_BYTES)
			ctx->block[ctx->block_used++] = 0;
		compress_blocks(ctx, ctx->block, 1);
		ctx->block_used = 0;
	}
	while (ctx->block_used < SHA256_BLOCK_BYTES - 8)
		ctx->block[ctx->block_used++] = 0;
	store_be32(ctx->block + 56, (uint32_t)(bit_length >> 32));
	store_be32(ctx->block + 60, (uint32_t)bit_length);
	compress_blocks(ctx, ctx->block, 1);
	ctx->block_used = 0;

	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->state[i]);
}

void sha256_digest_regions(const struct sha256_region *regions, unsigned count, enum sha256_impl impl,
			   uint8_t out[SHA256_DIGEST_BYTES])
{
	struct sha256_ctx ctx;
	unsigned i;

	sha256_init(&ctx, impl);
	for (i = 0; i < count; i++) {
		if (regions[i].len == 0)
			continue;
		sha256_update(&ctx, (const void *)(uintptr_t)regions[i].start, (size_t)regions[i].len);
	}
	sha256_final(&ctx, out);
}
