// Where edgeprop's files are. Two places, each defined once here:
//  - the repository (sources, board definitions, scripts/toolchains.txt), found from this file;
//  - the build cache: everything edgeprop compiles on demand (device .wasm, firmware images,
//    wasm2c-native binaries, the QEMU plugin, benchmark binaries) and QEMU's run files. Every
//    entry lives under cacheDir(<kind>) and is named by a hash of its inputs or rebuilt when
//    stale, so the whole folder can be deleted at any time. Moving the cache (e.g. to a
//    per-user folder) is a change to cacheDir() alone.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is host/paths.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A path inside the repository. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/** A folder (or file) of the build cache. */
export function cacheDir(...parts: string[]): string {
  return join(REPO_ROOT, "build", ...parts);
}
