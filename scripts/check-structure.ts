/**
 * Structure rules `deno task check` enforces on lib/ and ffi/ (the module graph comes from `deno info --json`):
 *  - no import cycle (type-only imports count);
 *  - nothing outside lib/cli/ imports lib/cli/ (the CLI sits on top; runtime ports live in lib/runtime.ts);
 *  - no lib/ file over 400 lines (generated lib/purgatory/blob.ts excepted): past that it is usually two concepts;
 *  - `Deno.dlopen` only in ffi/; `/proc` and `/sys` read only through the SystemView (lib/system.ts).
 * Prints every violation and exits 1 if there is one.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const MAX_LINES = 400;
const GENERATED = new Set(["lib/purgatory/blob.ts"]);

/** Every .ts file under `dir`, relative to the checkout. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of [...Deno.readDirSync(`${ROOT}/${rel}`)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory) walk(r);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(r);
    }
  };
  walk(dir);
  return out;
}

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The import graph among `files` (relative paths), from one `deno info --json` over all of them. */
function importGraph(files: string[]): Map<string, string[]> {
  const entry = Deno.makeTempFileSync({ suffix: ".ts" });
  try {
    Deno.writeTextFileSync(entry, files.map((f) => `import "${ROOT}/${f}";`).join("\n") + "\n");
    const deno = Deno.execPath();
    const r = new Deno.Command(deno, { args: ["info", "--json", entry], stdout: "piped", stderr: "piped" })
      .outputSync();
    if (!r.success) throw new Error(`deno info failed: ${new TextDecoder().decode(r.stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: InfoModule[] };
    const rel = (spec: string) => spec.startsWith(`file://${ROOT}/`) ? spec.slice(`file://${ROOT}/`.length) : spec;
    const graph = new Map<string, string[]>();
    for (const m of info.modules) {
      const from = rel(m.specifier);
      if (!files.includes(from)) continue;
      const deps = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) if (s) deps.add(rel(s));
      }
      graph.set(from, [...deps].filter((d) => files.includes(d)).sort());
    }
    return graph;
  } finally {
    Deno.removeSync(entry);
  }
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

if (import.meta.main) {
  const files = [...tsFiles("lib"), ...tsFiles("ffi")];
  const graph = importGraph(files);
  const problems: string[] = [];
  for (const scc of cycles(graph)) problems.push(`import cycle: ${scc.join(" -> ")}`);
  for (const [from, deps] of graph) {
    if (from.startsWith("lib/cli/")) continue;
    for (const d of deps) if (d.startsWith("lib/cli/")) problems.push(`${from} imports the CLI (${d})`);
  }
  for (const f of files) {
    const text = Deno.readTextFileSync(`${ROOT}/${f}`);
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (f.startsWith("lib/") && !GENERATED.has(f) && lines > MAX_LINES) {
      problems.push(`${f} has ${lines} lines (more than ${MAX_LINES}: split it by concept)`);
    }
    if (!f.startsWith("ffi/") && /Deno\.dlopen\(/.test(text)) problems.push(`${f} calls Deno.dlopen outside ffi/`);
    if (f !== "lib/system.ts" && /Deno\.(readFile|readTextFile|open|readDir)\w*\(\s*["`]\/(proc|sys)\//.test(text)) {
      problems.push(`${f} reads /proc or /sys directly (use the SystemView, lib/system.ts)`);
    }
  }
  if (problems.length) {
    for (const p of problems) console.error(`check-structure: ${p}`);
    Deno.exit(1);
  }
  console.log(`check-structure: ${files.length} modules, no cycle, layering and size rules hold`);
}
