// Where edgeprop's files are, each place defined once here:
//  - the repository (sources, board definitions, scripts/toolchains.txt), found from this file;
//    read-only as far as any verb is concerned: it may belong to another user;
//  - the per-user state folder: $XDG_CACHE_HOME/edgeprop, else ~/.cache/edgeprop (the XDG
//    default), else <os temp>/edgeprop-<uid> — the first this user can write. A folder this
//    process did not create is used only if it is a real directory (not a symlink) owned by this
//    user, so another user cannot plant a link under the shared temp folder. It holds:
//  - the build cache, stateDir()/build/<package copy>: everything edgeprop compiles on demand (device .wasm,
//    firmware images, wasm2c-native binaries, the QEMU plugin, benchmark binaries). One
//    strategy: every entry lives under cacheDir(<kind>), is keyed by a sha-256 of all its inputs
//    (in its name, or in a .hash file beside it), is written under a temporary name and renamed
//    into place (parallel test workers), and is up to date exactly when its key matches — so the
//    folder can be deleted at any time;
//  - boards' run files (simulated boards' pty links and storage, QEMU sockets, logs and the state
//    `flash` leaves for `flash --stop`): stateSubdir(<kind>), one instanceDir() per running board.
import { accessSync, constants, lstatSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is host/paths.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A path inside the repository. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/**
 * This package's part of the build cache: one per installed copy (the state folder is shared by
 * every copy a user has — checkouts on different branches, a global install), so that entries
 * kept up to date by a .hash file beside a fixed name never flip between copies' sources.
 */
const PACKAGE_KEY = `${basename(REPO_ROOT)}-${createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 8)}`;

/** A folder (or file) of the build cache (not created: writers make their folders). */
export function cacheDir(...parts: string[]): string {
  return join(stateDir(), "build", PACKAGE_KEY, ...parts);
}


/** The folder found, and the XDG_CACHE_HOME it was found for (tests change it). */
let cached: { dir: string; xdg: string | undefined } | undefined;

function usable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) return false;
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) return false;
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function candidates(): string[] {
  const out: string[] = [];
  const xdg = process.env.XDG_CACHE_HOME;
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && xdg.startsWith("/")) out.push(join(xdg, "edgeprop"));
  let home = "";
  try {
    home = process.env.HOME || homedir();
  } catch {
    home = "";
  }
  if (home) out.push(join(home, ".cache", "edgeprop"));
  let uid = "user";
  try {
    uid = String(userInfo().uid);
  } catch {
    /* no passwd entry: keep the generic name */
  }
  out.push(join(tmpdir(), `edgeprop-${uid}`));
  return out;
}

/** The per-user state folder (created, mode 0700 when new). */
export function stateDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  if (cached && cached.xdg === xdg && usable(cached.dir)) return cached.dir;
  for (const dir of candidates()) {
    if (usable(dir)) {
      cached = { dir, xdg };
      return dir;
    }
  }
  throw new Error(`no writable state folder: tried ${candidates().join(", ")}`);
}

/** A sub-folder of the state folder (created). */
export function stateSubdir(...parts: string[]): string {
  const dir = join(stateDir(), ...parts);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A fresh, private folder under `state/<kind>/` for one instance (a sim board, a QEMU board). */
export function instanceDir(kind: string): string {
  return mkdtempSync(join(stateSubdir(kind), `${process.pid}-`));
}
