/** The crash-hotplug table on the newest kernel, peers rows (tests/vm/matrix.ts). */
import { registerCells } from "./matrix.ts";

registerCells("newest", "peers");
