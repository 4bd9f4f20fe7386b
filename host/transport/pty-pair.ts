// A pseudo-terminal pair made by socat: bytes written to one end come out of the other, in raw
// mode (no echo, no CR/LF translation: safe for binary frames). The sim board opens one end,
// the host (or anything speaking the protocol) the other.
import { spawnSync } from "node:child_process";
import { spawnTied } from "../process/tied.ts";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { missingTool } from "../toolchains.ts";

export interface PtyPair {
  /** Stable symlink paths (inside `dir`) and the /dev/pts devices they point to. */
  hostLink: string;
  boardLink: string;
  hostPath: string;
  boardPath: string;
  proc: ChildProcess;
  close(): Promise<void>;
}

export function requireSocat(): void {
  const r = spawnSync("socat", ["-V"], { stdio: "ignore" });
  if (r.error || r.status !== 0) throw missingTool("socat");
}

/** Starts socat with two raw ptys linked as `<dir>/host` and `<dir>/board`. */
export async function openPtyPair(dir: string, timeoutMs = 5000): Promise<PtyPair> {
  requireSocat();
  mkdirSync(dir, { recursive: true });
  const hostLink = join(dir, "host");
  const boardLink = join(dir, "board");
  rmSync(hostLink, { force: true });
  rmSync(boardLink, { force: true });
  const proc = spawnTied("socat", [`pty,raw,echo=0,link=${boardLink}`, `pty,raw,echo=0,link=${hostLink}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const t0 = Date.now();
  while (!(existsSync(hostLink) && existsSync(boardLink))) {
    if (proc.exitCode !== null) throw new Error(`socat exited (${proc.exitCode}): ${stderr.trim()}`);
    if (Date.now() - t0 > timeoutMs) {
      proc.kill();
      throw new Error(`socat did not create the pty pair within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    hostLink,
    boardLink,
    hostPath: realpathSync(hostLink),
    boardPath: realpathSync(boardLink),
    proc,
    close: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}
