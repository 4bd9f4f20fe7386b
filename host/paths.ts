// Where edgeprop's files are. Two places, each defined once here:
//  - the repository (sources, board definitions, scripts/toolchains.txt), found from this file;
//  - the build cache: everything edgeprop compiles on demand (device .wasm, firmware images,
//    wasm2c-native binaries, the QEMU plugin, benchmark binaries) and QEMU's run files. One
//    strategy: every entry lives under cacheDir(<kind>), is keyed by a sha-256 of all its inputs
//    (in its name, or in a .hash file beside it), is written under a temporary name and renamed
//    into place (parallel test workers), and is up to date exactly when its key matches — so the
//    folder can be deleted at any time. Moving the cache (e.g. to a per-user folder) is a change
//    to cacheDir() alone.
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
