/**
 * The guest kernels of the VM tests: Debian's, unpacked by `scripts/setup --vm` into `.cache/kernels/<id>/`
 * (vmlinuz, config, System.map, and `package`, the Debian package it came from).
 *
 *  - `6.1`: bookworm's kernel, the old one (no crash hotplug);
 *  - `6.12`: bookworm-security/-backports, the current one (the default);
 *  - `newest`: the newest Debian ships (trixie-backports), found by name, so the matrix keeps moving forward.
 *
 * `KTS_KERNELS=6.12,newest` (or `scripts/test --kernel=...`) limits the matrix tests to those kernels.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** The kernels the VM tests know. */
export const KERNEL_IDS = ["6.1", "6.12", "newest"] as const;
/** One of {@link KERNEL_IDS}. */
export type KernelId = typeof KERNEL_IDS[number];
/** The kernel a test boots when it does not say. */
export const DEFAULT_KERNEL: KernelId = "6.12";

/** Where a kernel is unpacked. */
export function kernelDir(id: KernelId): string {
  return `${ROOT}/.cache/kernels/${id}`;
}

/** The bzImage of a kernel. */
export function kernelImage(id: KernelId = DEFAULT_KERNEL): string {
  return `${kernelDir(id)}/vmlinuz`;
}

/** The Debian package a kernel came from (`linux-image-6.12.57+deb12-amd64-unsigned`), or the id if unknown. */
export function kernelPackage(id: KernelId): string {
  try {
    return Deno.readTextFileSync(`${kernelDir(id)}/package`).trim();
  } catch {
    return id;
  }
}

/** A line of the kernel's config (`CONFIG_CRASH_HOTPLUG=y`), or undefined when unset or unknown. */
export function kernelConfig(id: KernelId, option: string): string | undefined {
  try {
    const m = new RegExp(`^${option}=(.*)$`, "m").exec(Deno.readTextFileSync(`${kernelDir(id)}/config`));
    return m?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The kernels the matrix tests run on: `KTS_KERNELS` (comma-separated ids), else all of them.
 * @throws Error for an unknown id (a typo must not silently run nothing)
 */
export function matrixKernels(): KernelId[] {
  const text = Deno.env.get("KTS_KERNELS");
  if (!text) return [...KERNEL_IDS];
  const ids = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of ids) {
    if (!(KERNEL_IDS as readonly string[]).includes(id)) {
      throw new Error(`KTS_KERNELS names "${id}"; the VM tests know ${KERNEL_IDS.join(", ")}`);
    }
  }
  return ids as KernelId[];
}
