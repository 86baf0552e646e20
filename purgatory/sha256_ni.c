/*
 * SHA-256 block compression with the x86 SHA extensions (sha256rnds2, sha256msg1, sha256msg2), plus SSSE3
 * (pshufb, palignr) and SSE4.1 (pblendw), for the kexec-ts purgatory.
 *
 * This file alone is compiled with SSE enabled (scripts/build-purgatory); the purgatory calls it only after
 * CPUID reported the extensions and it set CR4.OSFXSR itself (purgatory.c), because the kernel's
 * relocate_kernel leaves CR4 = PAE only, where every SSE instruction faults.
 *
 * The instructions keep the eight state words in two registers, ABEF and CDGH (A in the top lane). Each
 * sha256rnds2 does two rounds and yields the new ABEF; after two rounds the new CDGH is the old ABEF, so two
 * calls with the registers swapped do four rounds and leave them named right again.
 */
#include <immintrin.h>

#include "sha256.h"

void sha256_blocks_shani(uint32_t state[8], const uint8_t *data, size_t blocks)
{
	/* pshufb mask: reverses the bytes of each 32-bit lane (the message words are big-endian). */
	const __m128i bswap32 = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i abef, cdgh, lo, hi;

	/* state[0..3] = A B C D and state[4..7] = E F G H (lane 0 first) into ABEF and CDGH. */
	lo = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xb1); /* B A D C */
	hi = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1b); /* H G F E */
	abef = _mm_alignr_epi8(lo, hi, 8);	/* F E B A */
	cdgh = _mm_blend_epi16(hi, lo, 0xf0); /* H G D C */

	for (; blocks != 0; blocks--, data += SHA256_BLOCK_BYTES) {
		const __m128i abef_in = abef, cdgh_in = cdgh;
		__m128i w[4]; /* the last four groups of four message words: group g in w[g % 4] */
		unsigned g;

#pragma GCC unroll 16
		for (g = 0; g < 16; g++) {
			__m128i words, k;

			if (g < 4) {
				words = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), bswap32);
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time. */
				words = _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]);
				words = _mm_add_epi32(words, _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4));
				words = _mm_sha256msg2_epu32(words, w[(g + 3) % 4]);
			}
			w[g % 4] = words;
			k = _mm_add_epi32(words, _mm_load_si128((const __m128i *)&sha256_round_constants[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);		       /* rounds 4g, 4g+1: new ABEF */
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0e)); /* 4g+2, 4g+3 */
		}
		abef = _mm_add_epi32(abef, abef_in);
		cdgh = _mm_add_epi32(cdgh, cdgh_in);
	}

	/* Back to A B C D and E F G H. */
	lo = _mm_shuffle_epi32(abef, 0x1b); /* A B E F */
	hi = _mm_shuffle_epi32(cdgh, 0xb1); /* G H C D */
	_mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(lo, hi, 0xf0)); /* A B C D */
	_mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(hi, lo, 8));   /* E F G H */
}
