/** The crash-hotplug table on the 6.12 kernel, kexec-ts rows (tests/vm/matrix.ts). */
import { registerCells } from "./matrix.ts";

registerCells("6.12", "kexec-ts");
