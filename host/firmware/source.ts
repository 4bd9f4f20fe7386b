// Which firmware .wasm a command builds: a path, or one of two keywords:
//   firmware  device/firmware, the edgeprop firmware (built by device/firmware/build.ts); default
//   echo      tests/fixtures/echo.ts, the HAL test module (greets "HELLO echo 1", echoes bytes)
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { InputError } from "../input/errors.ts";
import type { Board } from "../../boards/index.ts";
import { buildFirmware as buildFirmwareWasm } from "../../device/firmware/build.ts";
import { ruleOmitFlags } from "./build.ts";
import { REPO_ROOT, cacheDir, repoPath } from "../paths.ts";

export const ECHO_SOURCE = repoPath("tests", "fixtures", "echo.ts");
/** AssemblyScript flags for MCU modules (device/HAL.md): no GC, no SIMD, no non-trapping f2i. */
export const MCU_ASC_FLAGS = ["--runtime", "stub", "-O2", "--noAssert", "--disable", "simd", "--disable", "nontrapping-f2i", "--initialMemory", "1"];

/** The source and every file it imports by relative path, transitively (what the build depends on). */
function sourceClosure(source: string, seen = new Set<string>()): Set<string> {
  const file = resolve(source);
  if (seen.has(file) || !existsSync(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, "utf8").matchAll(/from\s+"(\.{1,2}\/[^"]+)"/g)) {
    const dep = resolve(dirname(file), m[1]!);
    sourceClosure(dep.endsWith(".ts") ? dep : `${dep}.ts`, seen);
  }
  return seen;
}

/** Compile an AssemblyScript module to cacheDir("mcu", "wasm")/<name>-<hash>.wasm (cached by its sources and flags). */
export async function compileAssemblyScript(source: string, name: string, flags: string[] = MCU_ASC_FLAGS): Promise<string> {
  const h = createHash("sha256").update(JSON.stringify(flags));
  for (const f of [...sourceClosure(source)].sort()) h.update(relative(REPO_ROOT, f)).update(readFileSync(f));
  const key = h.digest("hex").slice(0, 12);
  const dir = cacheDir("mcu", "wasm");
  const out = join(dir, `${name}-${key}.wasm`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}.wasm`;
  const { default: asc } = await import("assemblyscript/asc");
  const res = await asc.main([source, ...flags, "--outFile", tmp], {});
  if (res.error) throw new Error(`asc failed for ${source}: ${res.error.message}\n${res.stderr.toString()}`);
  renameSync(tmp, out);
  return out;
}

export function buildEchoWasm(): Promise<string> {
  return compileAssemblyScript(ECHO_SOURCE, "echo");
}

/** The edgeprop firmware .wasm for `board` (every rule without one): the rules it carries, the rest compiled out. */
export async function firmwareWasmFor(board?: Board): Promise<string> {
  const omit = board ? ruleOmitFlags(board) : [];
  const name = omit.length ? `firmware-${board!.rules!.join("-") || "no-rules"}` : "firmware";
  return (await buildFirmwareWasm(undefined, name, omit)).wasmPath;
}

/** `firmware` is built with the learning rules `board` carries (boards/*.json `rules`; every rule without a board). */
export async function resolveWasm(spec: string | undefined, board?: Board): Promise<string> {
  const s = spec ?? "firmware";
  if (s === "echo") return buildEchoWasm();
  if (s === "firmware") return firmwareWasmFor(board);
  if (!existsSync(s)) throw new InputError("--wasm", `file '${s}' not found; expected a .wasm path, 'echo' or 'firmware'`);
  return s;
}
