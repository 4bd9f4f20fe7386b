// The per-user state folder: build caches (firmware, device kernels, MCU images), simulated
// boards' pty links and storage, QEMU boards' sockets and logs. Never the package folder, which
// may be read-only or belong to another user (a global `npm install -g`).
//   $XDG_CACHE_HOME/edgeprop, else ~/.cache/edgeprop (the XDG default), else
//   <os temp>/edgeprop-<uid> — the first one this user can write.
// A folder this process did not create is used only if it is a real directory (not a symlink)
// owned by this user, so another user cannot plant a link under the shared temp folder.
import { accessSync, constants, lstatSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { join } from "node:path";

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
