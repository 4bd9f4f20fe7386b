// The layers of the code base, checked from the source text:
//  - the ground floor (errors and field readers, the model records and the neuron step, PCG32,
//    paths and the tool table, the wire protocol, board definitions) imports only the ground floor;
//  - the float64 reference imports only the ground floor and itself;
//  - nothing but the CLI's entry (bin/) imports host/cli/;
//  - AssemblyScript sources in device/ import only device/ (its Node build scripts, which import
//    node: modules, may use the ground floor);
//  - nothing outside tests/ imports tests/.
// A way to reach a board (transport, flashing, USB) is either reached by a command or labelled
// as untried library code by `edgeprop boards`.
// And the "one of each" rules: one table of tools -> Debian packages (scripts/toolchains.txt),
// one repository root and one build cache (host/paths.ts), kebab-case file names.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { UNTRIED_LIBRARY } from "../host/cli/commands/boards.ts";
import { REPO_ROOT } from "../host/paths.ts";
import { toolchainTable } from "../host/toolchains.ts";

const SOURCE_DIRS = ["host", "boards", "protocol", "fpga", "device", "bench", "bin", "tests", "scripts"];
const GROUND = ["host/input/", "host/model/", "host/rng/", "host/paths.ts", "host/toolchains.ts", "protocol/", "boards/"];

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(REPO_ROOT, dir)).sort()) {
    const rel = `${dir}/${name}`;
    if (statSync(join(REPO_ROOT, rel)).isDirectory()) files(rel, out);
    else out.push(rel);
  }
  return out;
}

const ALL = SOURCE_DIRS.flatMap((d) => files(d));
const CODE = ALL.filter((f) => /\.(ts|mjs)$/.test(f));

interface Module {
  file: string;
  /** Repository-relative targets of relative imports (static, re-export and dynamic). */
  imports: string[];
  /** Bare specifiers (node:*, npm packages). */
  packages: string[];
}

// `import ... from "x"` and `export ... from "x"` (over several lines too), `import("x")`,
// `import "x"`. Comments are dropped first so that prose cannot look like an import.
const IMPORT = /\bfrom\s*["']([^"'\n]+)["']|\bimport\s*\(\s*["']([^"'\n]+)["']\s*\)|^\s*import\s*["']([^"'\n]+)["']/gm;

function scan(file: string): Module {
  const src = readFileSync(join(REPO_ROOT, file), "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
  const specs = [...src.matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
  return {
    file,
    imports: specs.filter((s) => s.startsWith(".")).map((s) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), s))),
    packages: specs.filter((s) => !s.startsWith(".")),
  };
}

const within = (file: string, prefixes: readonly string[]) => prefixes.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p));

/** Every import that crosses a boundary the wrong way, as "from -> to (rule)". */
export function upwardArrows(mods: readonly Module[]): string[] {
  const bad: string[] = [];
  for (const m of mods) {
    const isNodeScript = m.packages.some((p) => p.startsWith("node:"));
    for (const to of m.imports) {
      const arrow = `${m.file} -> ${to}`;
      if (within(m.file, GROUND) && !within(to, GROUND)) bad.push(`${arrow} (the ground floor imports only the ground floor)`);
      if (m.file.startsWith("host/reference/") && !within(to, [...GROUND, "host/reference/"])) bad.push(`${arrow} (the reference imports only the ground floor)`);
      if (to.startsWith("host/cli/") && !m.file.startsWith("host/cli/") && !m.file.startsWith("bin/") && !m.file.startsWith("tests/")) bad.push(`${arrow} (only bin/ enters host/cli/)`);
      if (m.file.startsWith("device/") && !to.startsWith("device/") && !(isNodeScript && within(to, GROUND))) bad.push(`${arrow} (device sources import only device/)`);
      if (to.startsWith("tests/") && !m.file.startsWith("tests/")) bad.push(`${arrow} (nothing ships that needs tests/)`);
    }
  }
  return bad;
}

describe("import boundaries", () => {
  const mods = CODE.map(scan);

  it("the scanner sees every kind of import", () => {
    const m = mods.find((x) => x.file === "bin/edgeprop.mjs")!;
    expect(m.imports).toContain("host/cli/main.ts"); // a dynamic import()
    expect(mods.find((x) => x.file === "host/reference/simulate.ts")!.imports).toContain("host/model/lif.ts");
    expect(mods.find((x) => x.file === "host/device/planner.ts")!.imports.length).toBeGreaterThan(0);
    expect(mods.find((x) => x.file === "protocol/frame.ts")!.packages).toEqual([]);
    expect(mods.reduce((n, x) => n + x.imports.length, 0)).toBeGreaterThan(300);
  });

  it("the rule catches an upward arrow (checked on made-up modules)", () => {
    const made: Module[] = [
      { file: "host/model/x.ts", imports: ["host/cli/args.ts"], packages: [] },
      { file: "boards/index.ts", imports: ["host/firmware/build.ts"], packages: [] },
      { file: "host/reference/x.ts", imports: ["host/tasks/task.ts"], packages: [] },
      { file: "host/train/x.ts", imports: ["host/cli/errors.ts"], packages: [] },
      { file: "device/kernels/x.ts", imports: ["host/model/types.ts"], packages: [] },
      { file: "host/x.ts", imports: ["tests/helpers/cli.ts"], packages: [] },
      { file: "host/cli/x.ts", imports: ["host/model/types.ts"], packages: [] }, // downward: fine
      { file: "device/firmware/build.ts", imports: ["host/paths.ts"], packages: ["node:fs"] }, // Node build script: fine
    ];
    const flagged = new Set(upwardArrows(made).map((a) => a.slice(0, a.indexOf(" -> "))));
    expect([...flagged].sort()).toEqual(made.slice(0, 6).map((m) => m.file).sort());
  });

  it("no upward arrows in the code base", () => {
    expect(upwardArrows(mods)).toEqual([]);
  });
});

describe("features are what a command reaches", () => {
  const mods = new Map(CODE.map((f) => [f, scan(f)]));
  const reached = new Set<string>();
  const queue = ["bin/edgeprop.mjs"];
  while (queue.length > 0) {
    const f = queue.pop()!;
    if (reached.has(f)) continue;
    reached.add(f);
    queue.push(...(mods.get(f)?.imports ?? []));
  }
  const labelled = new Set<string>(UNTRIED_LIBRARY.flatMap((u) => [...u.modules]));

  it("every transport, flashing and USB module is reached from bin/edgeprop.mjs or labelled untried", () => {
    expect(reached.has("host/firmware/flash.ts")).toBe(true);
    const board = CODE.filter((f) => /^host\/(transport|flash|usb|firmware)\//.test(f));
    expect(board.filter((f) => !reached.has(f) && !labelled.has(f))).toEqual([]);
  });

  it("what `edgeprop boards` labels as untried is indeed reached by no command", () => {
    expect([...labelled].filter((f) => reached.has(f))).toEqual([]);
    for (const f of labelled) expect(mods.has(f), f).toBe(true);
  });
});

describe("one of each", () => {
  const text = new Map(CODE.map((f) => [f, readFileSync(join(REPO_ROOT, f), "utf8")]));
  const shipped = CODE.filter((f) => !f.startsWith("tests/"));

  it("one table of tools -> Debian packages (scripts/toolchains.txt)", () => {
    const table = toolchainTable();
    expect(table.get("arm-none-eabi-gcc")?.debianPackage).toBe("gcc-arm-none-eabi");
    const stray = [...text].filter(([f, s]) => f !== "host/input/errors.ts" && f !== "host/toolchains.ts" && /new MissingToolError\(/.test(s)).map(([f]) => f);
    expect(stray, "construct MissingToolError through missingTool() so the package comes from the table").toEqual([]);
    const named = new Set<string>();
    for (const s of text.values()) {
      for (const m of s.matchAll(/\b(?:requireTool|runTool|runToolOk|missingTool|requireFile)\(\s*"([^"]+)"/g)) named.add(m[1]!);
    }
    for (const m of readFileSync(join(REPO_ROOT, "host/firmware/tools.ts"), "utf8").matchAll(/\|\s*"([^"]+)"/g)) named.add(m[1]!);
    for (const m of readFileSync(join(REPO_ROOT, "fpga/tools.ts"), "utf8").matchAll(/"([a-z0-9-]+)"\s*(?:\||;)/g)) named.add(m[1]!);
    expect(named.size).toBeGreaterThan(12);
    expect([...named].filter((t) => !table.has(t))).toEqual([]);
  });

  it("one repository root and one build cache (host/paths.ts)", () => {
    const roots = shipped.filter((f) => f !== "host/paths.ts" && /(dirname|new URL)\([^)]*import\.meta\.url|fileURLToPath\(new URL\(/.test(text.get(f)!));
    expect(roots).toEqual([]);
    const caches = CODE.filter((f) => f !== "host/paths.ts" && /["']build\/|join\([^)]*["']build["']/.test(text.get(f)!));
    expect(caches, "build outputs go through cacheDir()").toEqual([]);
  });

  it("kebab-case file names", () => {
    const bad = ALL.filter((f) => {
      const base = f.slice(f.lastIndexOf("/") + 1);
      const stem = base.slice(0, base.indexOf(".") === -1 ? undefined : base.indexOf("."));
      return !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(stem) && !/^[A-Z0-9]+\.md$/.test(base);
    });
    expect(bad).toEqual([]);
  });
});
