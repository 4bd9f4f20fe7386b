// Builds the device kernels' Node-facing .wasm on demand (cacheDir("device")/{scalar,simd}.wasm
// from device/node/entry.ts with asconfig.json's targets), so a clean clone needs no build step.
// As every cached build of edgeprop, it is keyed by the content of its inputs (asconfig.json and
// every source under device/kernels, device/rules and device/node), recorded next to the output
// ({scalar,simd}.hash): a missing output or another key means a rebuild with the compiler.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, existsSync, rmSync, openSync, closeSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { execFile } from "node:child_process";
import { REPO_ROOT, cacheDir } from "../paths.ts";
import type { Build } from "./planner.ts";

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd: REPO_ROOT, maxBuffer: 1 << 24 }, (err, _stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stderr}`)) : res()));
  });
}

const SOURCES = ["device/kernels", "device/node", "device/rules"];
const ENTRY = "device/node/entry.ts";

export function wasmPath(build: Build): string {
  return cacheDir("device", `${build}.wasm`);
}

const hashPath = (build: Build): string => cacheDir("device", `${build}.hash`);

/** sha-256 of the build name, asconfig.json and every source (path and bytes, in path order). */
function sourceKey(build: Build): string {
  const h = createHash("sha256").update(build).update(readFileSync(join(REPO_ROOT, "asconfig.json")));
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) h.update(relative(REPO_ROOT, p)).update(readFileSync(p));
    }
  };
  for (const s of SOURCES) walk(join(REPO_ROOT, s));
  return h.digest("hex");
}

export function isStale(build: Build): boolean {
  const out = wasmPath(build);
  const hp = hashPath(build);
  return !existsSync(out) || !existsSync(hp) || readFileSync(hp, "utf8") !== sourceKey(build);
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
  const key = sourceKey(build); // of the sources as they are when the compiler reads them
  // Write to a private name and rename: parallel test workers may build at the same time.
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  // A child process: the compiler is plain JS, and loading it through tsx's loader is ~10x slower.
  const asc = join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
  const args = [asc, join(REPO_ROOT, ENTRY), "--config", join(REPO_ROOT, "asconfig.json"), "--target", build, "--outFile", tmp, "--textFile", `${tmp}.wat`];
  try {
    await run(process.execPath, args);
  } catch (e) {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.wat`, { force: true });
    throw new Error(`assemblyscript build '${build}' of ${ENTRY} failed: ${(e as Error).message}`);
  }
  if (existsSync(`${tmp}.wat`)) renameSync(`${tmp}.wat`, out.replace(/\.wasm$/, ".wat"));
  renameSync(tmp, out);
  writeFileSync(hashPath(build), key);
  return out;
}
