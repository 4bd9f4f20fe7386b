// Node-side build of the firmware .wasm (not AssemblyScript: run by tsx / imported by tests).
// Builds on demand into cacheDir("firmware"), cached by a hash of the AssemblyScript sources and the
// flags, written atomically (two test workers may build at once).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT, cacheDir } from "../../host/paths.ts";


/**
 * The firmware build flags: MCU constraints (device/HAL.md): stub runtime, no SIMD, no
 * non-trapping float-to-int (wabt 1.0.32's wasm2c), no assertions. The firmware's static
 * data fits one 64 KiB page; the model arena grows memory at CONFIGURE, at most to 16 MiB.
 */
export const FIRMWARE_FLAGS = [
  "--runtime", "stub", "--noAssert", "-O3",
  "--disable", "nontrapping-f2i", "--disable", "simd",
  // 256 pages = 16 MiB, the sim board's RAM (boards/sim.json); MCUs fail memory.grow earlier
  "--maximumMemory", "256",
];

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (name.endsWith(".ts") && name !== "build.ts") out.push(p);
  }
  return out;
}

export interface BuildResult {
  wasmPath: string;
  bytes: Uint8Array;
  cached: boolean;
}

/**
 * Compiles an AssemblyScript entry (default: the firmware, device/firmware/main.ts) to
 * cacheDir("firmware")/<name>.wasm (+ .wat). `name` defaults to the entry's base name.
 */
export async function buildFirmware(
  entry = "device/firmware/main.ts",
  name = "firmware",
  extraFlags: string[] = [],
): Promise<BuildResult> {
  const outDir = cacheDir("firmware");
  mkdirSync(outDir, { recursive: true });
  const wasmPath = join(outDir, `${name}.wasm`);
  const hashPath = join(outDir, `${name}.hash`);
  const h = createHash("sha256");
  h.update(JSON.stringify([entry, FIRMWARE_FLAGS, extraFlags]));
  for (const f of [...sourceFiles(join(REPO_ROOT, "device")), join(REPO_ROOT, entry)]) {
    h.update(relative(REPO_ROOT, f));
    h.update(readFileSync(f));
  }
  const digest = h.digest("hex");
  const fresh = () => existsSync(wasmPath) && existsSync(hashPath) && readFileSync(hashPath, "utf8") === digest;
  if (fresh()) return { wasmPath, bytes: readFileSync(wasmPath), cached: true };
  // one builder at a time across processes (test workers): the others wait for its result
  const lock = join(outDir, `${name}.lock`);
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (fresh()) return { wasmPath, bytes: readFileSync(wasmPath), cached: true };
      const age = existsSync(lock) ? Date.now() - statSync(lock).mtimeMs : 0;
      if (age > 120_000 || Date.now() - t0 > 180_000) rmSync(lock, { recursive: true, force: true }); // stale
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (fresh()) return { wasmPath, bytes: readFileSync(wasmPath), cached: true };
    return await compile(entry, extraFlags, outDir, name, wasmPath, hashPath, digest);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function compile(
  entry: string, extraFlags: string[], outDir: string, name: string, wasmPath: string, hashPath: string, digest: string,
): Promise<BuildResult> {
  const { default: asc } = await import("assemblyscript/asc");
  const tag = `${process.pid}-${Date.now()}`;
  const tmpWasm = join(outDir, `${name}.${tag}.wasm`);
  const tmpWat = join(outDir, `${name}.${tag}.wat`);
  // --baseDir: the compiler names functions after their source paths relative to it, so a build
  // from any working folder gives the same module (and the same names in the .wat).
  const res = await asc.main(
    [entry, "--baseDir", REPO_ROOT, ...FIRMWARE_FLAGS, ...extraFlags, "--outFile", tmpWasm, "--textFile", tmpWat],
    {},
  );
  if (res.error) {
    throw new Error(`firmware build of ${entry} failed: ${res.error.message}\n${res.stderr.toString()}`);
  }
  renameSync(tmpWat, join(outDir, `${name}.wat`));
  renameSync(tmpWasm, wasmPath);
  writeFileSync(hashPath, digest);
  return { wasmPath, bytes: readFileSync(wasmPath), cached: false };
}

/** The import names a module needs, as "module.name" (the HAL check of device/HAL.md). */
export function wasmImports(bytes: Uint8Array): string[] {
  const mod = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  return WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildFirmware(process.argv[2], process.argv[3]);
  process.stdout.write(`${relative(REPO_ROOT, r.wasmPath)} ${r.bytes.length} bytes${r.cached ? " (cached)" : ""}\n`);
}
