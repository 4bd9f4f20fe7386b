// Runs the real CLI in a child process, as a user would: from the repository root (`edgeprop`),
// or from any folder (`runIn`, `startEdgeprop`) — users do not run it from our checkout.
// `startEdgeprop` gives a running process whose output can be awaited line by line: tests wait
// for events (the HELLO, the N-th iteration), never for wall-clock windows.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { REPO_ROOT } from "../../host/paths.ts";

/** The repository root with a trailing slash (tests write `${ROOT}bin/edgeprop.mjs`). */
export const ROOT = `${REPO_ROOT}/`;
export const BIN = `${ROOT}bin/edgeprop.mjs`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function edgeprop(args: string[], input?: string): CliResult {
  return edgepropIn(ROOT, args, { input });
}

/** The CLI run to completion in `cwd` (relative paths in `args` are relative to it); blocks this process. */
function edgepropIn(cwd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd, input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, env: { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The CLI run to completion in `cwd`, without blocking this process (vitest's worker must keep
 * answering its runner while a slow command runs; spawnSync would stall it).
 */
export async function runIn(cwd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const r = startEdgeprop(cwd, args, opts);
  const code = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line (of stdout or stderr) matching `pattern`, now or later. */
  line(pattern: RegExp, stream?: "stdout" | "stderr"): Promise<string>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** The CLI started in `cwd`; its output is collected and can be awaited. */
export function startEdgeprop(cwd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; command?: string[] } = {}): RunningCli {
  const argv = [...(opts.command ?? []), process.execPath, BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...opts.env } });
  const text = { stdout: "", stderr: "" };
  const waiters: { pattern: RegExp; stream?: "stdout" | "stderr"; resolve: (l: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const streams = w.stream ? [w.stream] : (["stdout", "stderr"] as const);
      for (const s of streams) {
        const hit = text[s].split("\n").find((l) => w.pattern.test(l));
        if (hit !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(hit);
          break;
        }
      }
    }
  };
  child.stdout.on("data", (d: Buffer) => {
    text.stdout += d.toString();
    check();
  });
  child.stderr.on("data", (d: Buffer) => {
    text.stderr += d.toString();
    check();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code, signal) => {
      if (signal) text.stderr += `\n[test helper: killed by ${signal}]\n`;
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    line: (pattern, stream) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, ...(stream ? { stream } : {}), resolve });
        check();
        void exited.then(() => {
          if (waiters.some((w) => w.pattern === pattern)) reject(new Error(`exited before printing ${pattern}:\n${text.stdout}\n${text.stderr}`));
        });
      }),
    exited,
  };
}
