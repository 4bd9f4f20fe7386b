// Runs the real CLI in a child process, as a user would.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function edgeprop(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
