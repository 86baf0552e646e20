/**
 * `deno task deb [--form=auto|compiled|launcher] [--out=DIR] [--compress=xz|gzip]`: the Debian package of kexec-ts
 * (scripts/deb/build.ts) in dist/ (or DIR). auto: the compiled form when DENORT_BIN is set, else the launcher form
 * (bundle + Deno runtime). xz (the default) as Debian's archive; gzip builds ten times faster.
 *
 * @module
 */

import { buildDeb, type PackageForm } from "./deb/build.ts";

let form: PackageForm | "auto" = "auto";
let outDir: string | undefined;
let compress: "xz" | "gzip" = "xz";
for (const a of Deno.args) {
  const m = /^--(form|out|compress)=(.+)$/.exec(a);
  if (m?.[1] === "form" && ["auto", "compiled", "launcher"].includes(m[2])) form = m[2] as PackageForm | "auto";
  else if (m?.[1] === "out") outDir = m[2];
  else if (m?.[1] === "compress" && (m[2] === "xz" || m[2] === "gzip")) compress = m[2];
  else {
    console.error(
      `deb: unknown argument ${a}; usage: deno task deb [--form=auto|compiled|launcher] [--out=DIR] [--compress=xz|gzip]`,
    );
    Deno.exit(2);
  }
}
try {
  const r = await buildDeb({ form, outDir, compress, log: (l) => console.error(`deb: ${l}`) });
  console.log(`${r.path} (${r.form} form, ${r.sizeBytes} bytes, installed ${r.installedKiB} KiB)`);
} catch (e) {
  console.error(`deb: ${e instanceof Error ? e.message : e}`);
  Deno.exit(1);
}
