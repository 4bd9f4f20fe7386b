// Runs the real CLI in a child process, as a user would.
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../../host/paths.ts";

/** The repository root with a trailing slash (tests write `${ROOT}bin/edgeprop.mjs`). */
export const ROOT = `${REPO_ROOT}/`;

export function edgeprop(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
