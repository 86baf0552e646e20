/**
 * Errors are values with a code and an actionable message. Every failure the user can cause or meet
 * (bad option, bad image, kernel refusal) is a {@link KexecError}; anything else is a bug.
 *
 * The message is one line that names the cause and the fix; the CLI prints it as `kexec-ts: <message>`
 * and exits with {@link KexecError.exitCode} (1, like kexec-tools' die()).
 *
 * @module
 */

/** What went wrong, for scripts (`--json`) and tests; the message is for people. */
export type ErrorCode =
  | "usage" // bad command line
  | "io" // a file could not be read or written
  | "bad-image" // kernel image rejected by a loader
  | "bad-elf" // ELF file truncated or inconsistent
  | "relocation" // relocating the purgatory failed
  | "layout" // segments could not be placed
  | "invalid-plan" // a LoadPlan failed validation
  | "no-crash-region" // no crashkernel= reservation
  | "unsupported" // the running kernel or machine lacks a feature
  | "not-implemented" // an option a later version implements
  | "permission" // EPERM / EACCES from the kernel, or not root
  | "kernel" // any other errno from the kernel
  | "nothing-loaded"; // -e / reload with no image loaded

/** A failure with a stable code and a one-line, actionable message. */
export class KexecError extends Error {
  /** Stable machine-readable cause. */
  readonly code: ErrorCode;
  /** Process exit status the CLI uses (1, like kexec-tools' die()). */
  readonly exitCode: number;
  /**
   * A failure to report.
   * @param code stable machine-readable cause
   * @param message one line: what happened and what to do
   * @param exitCode process exit status the CLI uses (default 1)
   */
  constructor(code: ErrorCode, message: string, exitCode = 1) {
    super(message);
    this.code = code;
    this.exitCode = exitCode;
    this.name = "KexecError";
  }
}

/** Throws a {@link KexecError}; handy in expressions (`x ?? fail(...)`). */
export function fail(code: ErrorCode, message: string): never {
  throw new KexecError(code, message);
}

/** Formats a bigint address or size as `0x…` hex, the way every message in this program prints addresses. */
export function hex(value: bigint | number): string {
  return "0x" + value.toString(16);
}
