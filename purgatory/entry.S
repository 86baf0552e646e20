/*
 * kexec-ts purgatory: entry point and exit to the new kernel (x86_64, GNU as, AT&T syntax).
 *
 * Entered from the old kernel's relocate_kernel with: 64-bit long mode, identity-mapped paging,
 * every general register zero, RFLAGS = 0, NO valid GDT or IDT (any exception triple-faults),
 * CR4 = PAE only (SSE faults) and a tiny stack inside the control page.
 *
 * purgatory_start:
 *   1. loads our own GDT (0x10 = flat 64-bit code, 0x18 = flat data) and reloads DS/ES/SS/FS/GS
 *      with 0x18 and CS with 0x10 (far return);
 *   2. switches to our 16 KiB stack (.bss, 16-byte aligned top) and calls purgatory_main (C), which
 *      verifies the SHA-256 of the segments and never returns on a mismatch;
 *   3. loads every general register from entry64_regs and jumps to entry64_regs.rip.
 *
 * entry64_regs (global, .data, 136 bytes, all little-endian u64), patched by the loader
 * (lib/purgatory/purgatory.ts keeps the same table):
 *
 *   offset  register        offset  register
 *   0x00    rax             0x48    r9
 *   0x08    rbx             0x50    r10
 *   0x10    rcx             0x58    r11
 *   0x18    rdx             0x60    r12
 *   0x20    rsi             0x68    r13
 *   0x28    rdi             0x70    r14
 *   0x30    rsp             0x78    r15
 *   0x38    rbp             0x80    rip
 *   0x40    r8
 *
 * For the Linux 64-bit boot protocol the loader sets rsi = physical address of boot_params and
 * rip = kernel load address + 0x200. rsp = 0 keeps purgatory's own stack top.
 */

#define BOOT_CS 0x10
#define BOOT_DS 0x18

#define STACK_BYTES 16384

#define REG_RAX 0x00
#define REG_RBX 0x08
#define REG_RCX 0x10
#define REG_RDX 0x18
#define REG_RSI 0x20
#define REG_RDI 0x28
#define REG_RSP 0x30
#define REG_RBP 0x38
#define REG_R8 0x40
#define REG_R9 0x48
#define REG_R10 0x50
#define REG_R11 0x58
#define REG_R12 0x60
#define REG_R13 0x68
#define REG_R14 0x70
#define REG_R15 0x78
#define REG_RIP 0x80
#define ENTRY64_REGS_BYTES 0x88

	.code64
	.text
	.globl purgatory_start
	.type purgatory_start, @function
purgatory_start:
	cli
	lgdt	gdt_descriptor(%rip)
	movl	$BOOT_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	leaq	stack_end(%rip), %rsp

	/* Reload CS: far return to the next instruction through selector BOOT_CS. */
	pushq	$BOOT_CS
	leaq	cs_reloaded(%rip), %rax
	pushq	%rax
	lretq
cs_reloaded:
	call	purgatory_main

	/* Enter the next stage with every general register taken from entry64_regs. */
	leaq	entry64_regs(%rip), %rax
	movq	REG_RSP(%rax), %rbx
	testq	%rbx, %rbx
	jz	keep_stack
	movq	%rbx, %rsp
keep_stack:
	movq	REG_RBX(%rax), %rbx
	movq	REG_RCX(%rax), %rcx
	movq	REG_RDX(%rax), %rdx
	movq	REG_RSI(%rax), %rsi
	movq	REG_RDI(%rax), %rdi
	movq	REG_RBP(%rax), %rbp
	movq	REG_R8(%rax), %r8
	movq	REG_R9(%rax), %r9
	movq	REG_R10(%rax), %r10
	movq	REG_R11(%rax), %r11
	movq	REG_R12(%rax), %r12
	movq	REG_R13(%rax), %r13
	movq	REG_R14(%rax), %r14
	movq	REG_R15(%rax), %r15
	movq	REG_RAX(%rax), %rax
	jmpq	*(entry64_regs + REG_RIP)(%rip)
	.size purgatory_start, . - purgatory_start

	.data
	.balign 16
gdt:
	.quad	0			/* 0x00: null descriptor */
	.quad	0			/* 0x08: unused */
	.quad	0x00af9a000000ffff	/* 0x10: code, base 0, limit 4G, present, DPL 0, exec/read, L = 1 */
	.quad	0x00cf92000000ffff	/* 0x18: data, base 0, limit 4G, present, DPL 0, read/write */
gdt_end:

	.balign 2
gdt_descriptor:
	.word	gdt_end - gdt - 1	/* limit */
	.quad	gdt			/* base (absolute: R_X86_64_64) */

	.balign 8
	.globl entry64_regs
	.type entry64_regs, @object
entry64_regs:
	.fill	ENTRY64_REGS_BYTES / 8, 8, 0
	.size entry64_regs, . - entry64_regs

	.bss
	.balign 16
stack:
	.skip	STACK_BYTES
stack_end:

	.section .note.GNU-stack, "", @progbits
