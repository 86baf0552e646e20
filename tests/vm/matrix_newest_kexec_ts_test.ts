/** The crash-hotplug table on the newest kernel, kexec-ts rows (tests/vm/matrix.ts). */
import { registerCells } from "./matrix.ts";

registerCells("newest", "kexec-ts");
