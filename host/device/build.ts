// Builds the device kernels' Node-facing .wasm on demand (<state>/build/device/{scalar,simd}.wasm from
// device/node/entry.ts with asconfig.json's targets), so a clean clone needs no build step:
// a missing or stale .wasm (older than any source under device/kernels, device/node or
// asconfig.json) is rebuilt in-process with the AssemblyScript compiler.
import { mkdirSync, readdirSync, renameSync, statSync, existsSync, rmSync, openSync, closeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import type { Build } from "./planner.ts";
import { stateSubdir } from "../paths/state-dir.ts";

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd: ROOT, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stderr}`)) : res()));
  });
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SOURCES = ["device/kernels", "device/node"];
const ENTRY = "device/node/entry.ts";

export function wasmPath(build: Build): string {
  return join(stateSubdir("build", "device"), `${build}.wasm`);
}

function newestSource(): number {
  let newest = statSync(join(ROOT, "asconfig.json")).mtimeMs;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const s of SOURCES) walk(join(ROOT, s));
  return newest;
}

export function isStale(build: Build): boolean {
  const out = wasmPath(build);
  return !existsSync(out) || statSync(out).mtimeMs < newestSource();
}

const pending = new Map<Build, Promise<string>>();

/** Path of an up-to-date .wasm for `build`, compiling it first if needed. */
export function ensureWasm(build: Build): Promise<string> {
  if (!isStale(build)) return Promise.resolve(wasmPath(build));
  let p = pending.get(build);
  if (!p) {
    p = compile(build).finally(() => pending.delete(build));
    pending.set(build, p);
  }
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOCK_STALE_MS = 90_000;

/** One builder per target across processes (parallel test workers): a lock file, the others wait for it. */
async function compile(build: Build): Promise<string> {
  const out = wasmPath(build);
  mkdirSync(dirname(out), { recursive: true });
  const lock = `${out}.lock`;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch {
      if (!isStale(build)) return out; // someone else built it
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true });
      } catch {
        /* lock vanished between the two calls */
      }
      await sleep(200);
    }
  }
  try {
    if (!isStale(build)) return out;
    return await compileLocked(build, out);
  } finally {
    rmSync(lock, { force: true });
  }
}

async function compileLocked(build: Build, out: string): Promise<string> {
  // Write to a private name and rename: parallel test workers may build at the same time.
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  // A child process: the compiler is plain JS, and loading it through tsx's loader is ~10x slower.
  const asc = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
  const args = [asc, join(ROOT, ENTRY), "--config", join(ROOT, "asconfig.json"), "--target", build, "--outFile", tmp, "--textFile", `${tmp}.wat`];
  try {
    await run(process.execPath, args);
  } catch (e) {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.wat`, { force: true });
    throw new Error(`assemblyscript build '${build}' of ${ENTRY} failed: ${(e as Error).message}`);
  }
  if (existsSync(`${tmp}.wat`)) renameSync(`${tmp}.wat`, out.replace(/\.wasm$/, ".wat"));
  renameSync(tmp, out);
  return out;
}
