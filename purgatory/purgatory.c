/*
 * kexec-ts purgatory: the C part, called once from purgatory_start (entry.S) on purgatory's own
 * stack and GDT, before it jumps to the new kernel.
 *
 * It hashes the loaded segments and compares the result with the digest the loader computed. On a
 * mismatch it reports on the serial port (if configured) and halts forever: it never enters a kernel
 * whose memory is not what was loaded (for a crash kernel, the panic may have scribbled on it).
 *
 * The hash is the work done between a panic and the capture kernel, so it uses the CPU's SHA extensions
 * when CPUID reports them (with SSSE3 and SSE4.1, which the sequence also needs): it enables SSE itself
 * (CR0.EM clear, CR0.MP set, CR0.TS clear, CR4.OSFXSR and CR4.OSXMMEXCPT set; the old kernel's
 * relocate_kernel leaves CR4 = PAE only) and puts CR0 and CR4 back before entering the kernel. Elsewhere
 * it hashes with integer instructions only. The serial message says which was used.
 *
 * The loader (lib/purgatory/purgatory.ts) patches the variables below by symbol name, checking each
 * st_size. They are initialized (so they live in .data, PROGBITS, with -fno-zero-initialized-in-bss)
 * and global.
 */
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* Memory to hash, physical addresses (identity-mapped). len == 0: unused entry. 16 x 16 bytes. */
struct sha256_region sha256_regions[SHA256_REGION_COUNT] = { { 0, 0 } };

/* Expected SHA-256 of all regions, in order. 32 bytes. */
uint8_t sha256_digest[SHA256_DIGEST_BYTES] = { 0 };

/* Non-zero: do not verify (kexec -i / --no-checks). 1 byte. */
uint8_t skip_checks = 0;

/* 8250/16550 UART I/O port base for messages (0x3f8 = COM1); 0: silent. 2 bytes. */
uint16_t serial_port = 0;

void purgatory_main(void);

/* 8250 UART registers, as offsets from the port base. */
enum {
	UART_THR = 0, /* transmit holding register (DLAB = 0) */
	UART_DLL = 0, /* divisor latch low (DLAB = 1) */
	UART_IER = 1, /* interrupt enable (DLAB = 0) */
	UART_DLM = 1, /* divisor latch high (DLAB = 1) */
	UART_FCR = 2, /* FIFO control */
	UART_LCR = 3, /* line control */
	UART_MCR = 4, /* modem control */
	UART_LSR = 5, /* line status */
};

enum {
	UART_LCR_8N1 = 0x03,
	UART_LCR_DLAB = 0x80,
	UART_FCR_ENABLE_CLEAR = 0x07, /* enable FIFOs, clear RX and TX FIFOs */
	UART_MCR_DTR_RTS = 0x03,
	UART_LSR_THRE = 0x20, /* transmit holding register empty */
	UART_CLOCK_DIVISOR = 1, /* 115200 baud = 1.8432 MHz / 16 / 1 */
	UART_THRE_SPINS = 1000000, /* give up waiting for a wedged UART after this many polls */
};

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* Programs the UART for 115200 8N1, interrupts off, FIFOs on. */
static void serial_init(uint16_t base)
{
	outb(base + UART_IER, 0);
	outb(base + UART_LCR, UART_LCR_DLAB);
	outb(base + UART_DLL, UART_CLOCK_DIVISOR & 0xff);
	outb(base + UART_DLM, UART_CLOCK_DIVISOR >> 8);
	outb(base + UART_LCR, UART_LCR_8N1);
	outb(base + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(base + UART_MCR, UART_MCR_DTR_RTS);
}

static void serial_putc(uint16_t base, char c)
{
	unsigned spins;

	for (spins = 0; spins < UART_THRE_SPINS; spins++) {
		if (inb(base + UART_LSR) & UART_LSR_THRE)
			break;
	}
	outb(base + UART_THR, (uint8_t)c);
}

static void serial_puts(uint16_t base, const char *s)
{
	for (; *s != 0; s++) {
		if (*s == '\n')
			serial_putc(base, '\r');
		serial_putc(base, *s);
	}
}

static void serial_put_hex(uint16_t base, const uint8_t *bytes, unsigned count)
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < count; i++) {
		serial_putc(base, digits[bytes[i] >> 4]);
		serial_putc(base, digits[bytes[i] & 0xf]);
	}
}

/* CPUID bits (Intel SDM vol. 2A, CPUID). */
enum {
	CPUID1_ECX_SSSE3 = 1u << 9,
	CPUID1_ECX_SSE41 = 1u << 19,
	CPUID1_EDX_FXSR = 1u << 24,
	CPUID1_EDX_SSE = 1u << 25,
	CPUID1_EDX_SSE2 = 1u << 26,
	CPUID7_EBX_SHA = 1u << 29,
};

/* Control register bits (Intel SDM vol. 3A, 2.5). */
enum {
	CR0_MP = 1ul << 1, /* monitor coprocessor */
	CR0_EM = 1ul << 2, /* x87 emulation: SSE instructions fault when set */
	CR0_TS = 1ul << 3, /* task switched: SSE instructions fault when set */
	CR4_OSFXSR = 1ul << 9,	   /* OS supports FXSAVE/FXRSTOR: SSE instructions allowed */
	CR4_OSXMMEXCPT = 1ul << 10, /* OS handles unmasked SIMD floating-point exceptions */
};

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

/* Whether the CPU has everything sha256_blocks_shani() executes. */
static int cpu_has_sha_ni(void)
{
	const uint32_t need_ecx = CPUID1_ECX_SSSE3 | CPUID1_ECX_SSE41;
	const uint32_t need_edx = CPUID1_EDX_FXSR | CPUID1_EDX_SSE | CPUID1_EDX_SSE2;
	uint32_t a, b, c, d;

	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 7)
		return 0;
	cpuid(1, 0, &a, &b, &c, &d);
	if ((c & need_ecx) != need_ecx || (d & need_edx) != need_edx)
		return 0;
	cpuid(7, 0, &a, &b, &c, &d);
	return (b & CPUID7_EBX_SHA) != 0;
}

static inline uint64_t read_cr0(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static int digests_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;
	unsigned i;

	for (i = 0; i < SHA256_DIGEST_BYTES; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static void __attribute__((noreturn)) halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void purgatory_main(void)
{
	uint16_t port = serial_port;
	uint8_t actual[SHA256_DIGEST_BYTES];
	const char *how = "portable";

	if (port != 0)
		serial_init(port);
	if (skip_checks != 0) {
		if (port != 0)
			serial_puts(port, "kexec-ts purgatory: SHA-256 check skipped\n");
		return;
	}
	if (cpu_has_sha_ni()) {
		const uint64_t cr0 = read_cr0(), cr4 = read_cr4();

		write_cr0((cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP);
		write_cr4(cr4 | CR4_OSFXSR | CR4_OSXMMEXCPT);
		sha256_digest_regions(sha256_regions, SHA256_REGION_COUNT, SHA256_SHANI, actual);
		write_cr4(cr4);
		write_cr0(cr0);
		how = "sha-ni";
	} else {
		sha256_digest_regions(sha256_regions, SHA256_REGION_COUNT, SHA256_PORTABLE, actual);
	}
	if (!digests_equal(actual, sha256_digest)) {
		if (port != 0) {
			serial_puts(port, "kexec-ts purgatory: SHA-256 mismatch (");
			serial_puts(port, how);
			serial_puts(port, "), expected ");
			serial_put_hex(port, sha256_digest, SHA256_DIGEST_BYTES);
			serial_puts(port, " got ");
			serial_put_hex(port, actual, SHA256_DIGEST_BYTES);
			serial_puts(port, "; halting\n");
		}
		halt_forever();
	}
	if (port != 0) {
		serial_puts(port, "kexec-ts purgatory: SHA-256 ok (");
		serial_puts(port, how);
		serial_puts(port, ")\n");
	}
}
