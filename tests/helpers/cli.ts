// Runs the real CLI in a child process, as a user would.
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../../host/paths.ts";

/** The repository root with a trailing slash (tests write `${ROOT}bin/edgeprop.mjs`). */
export const ROOT = `${REPO_ROOT}/`;

/** `timeoutMs`: a guard against a hung CLI (a run that builds and trains on an emulated board needs more). */
export function edgeprop(args: string[], input?: string, timeoutMs = 120_000) {
  const r = spawnSync(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd: ROOT, input, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
