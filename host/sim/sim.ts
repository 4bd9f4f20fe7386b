// The simulated board: a socat pty pair plus a separate Node process hosting the firmware .wasm
// on one end (host/sim/board-main.ts). The host talks to `port` like to any serial board.
// The board process can be killed and restarted while the pty pair (the "cable") stays.
// Its files (pty links, storage) live in the per-user state folder unless `dir` says otherwise;
// every path handed to the board process is absolute, so the CLI works from any folder.
import { spawnTied } from "../process/tied.ts";
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildFirmware } from "../../device/firmware/build.ts";
import { REPO_ROOT, instanceDir } from "../paths.ts";
import { openPtyPair } from "../transport/pty-pair.ts";
import type { PtyPair } from "../transport/pty-pair.ts";

export interface SimOptions {
  /** Directory for the pty links and the default storage file (default: a fresh folder under <state>/sim, removed by stop()). */
  dir?: string;
  /** Persistent storage file (default <dir>/storage.bin). */
  storage?: string;
  /** A firmware .wasm (default: build device/firmware). */
  wasm?: string;
  boardId?: string;
  /** Byte fault rate on the board's UART, both directions (default 0). */
  faultRate?: number;
  faultSeed?: number;
  /** Board process stderr/stdout go here (default: discarded). */
  log?: (line: string) => void;
  /** How long the board process may take to say READY (ms, default 60 000). */
  readyMs?: number;
}

export interface Sim {
  /** The serial port the host opens (a stable symlink to the host-side pty). */
  port: string;
  pty: PtyPair;
  board: ChildProcess;
  /** Kills the board process (SIGKILL: a crash / power loss). */
  killBoard(): Promise<void>;
  /** Starts a new board process on the same pty (after killBoard). */
  startBoard(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const own = opts.dir === undefined;
  const dir = own ? instanceDir("sim") : resolve(opts.dir!);
  const cleanup = () => {
    if (own) rmSync(dir, { recursive: true, force: true });
  };
  let pty: PtyPair;
  try {
    const wasm = resolve(opts.wasm ?? (await buildFirmware()).wasmPath);
    pty = await openPtyPair(dir);
    const args = [
      "--import", "tsx", join(REPO_ROOT, "host/sim/board-main.ts"),
      "--port", pty.boardLink, "--wasm", wasm, "--storage", resolve(opts.storage ?? join(dir, "storage.bin")),
      "--board-id", opts.boardId ?? "sim",
    ];
    if (opts.faultRate) args.push("--fault-rate", String(opts.faultRate), "--fault-seed", String(opts.faultSeed ?? 1));
    const readyMs = opts.readyMs ?? 60_000;

    // cwd = the package, so `--import tsx` resolves; every path above is absolute.
    const launch = () =>
      new Promise<ChildProcess>((res, reject) => {
        const p = spawnTied(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        const timer = setTimeout(() => {
          p.kill("SIGKILL");
          reject(new Error(`sim board process did not start within ${readyMs / 1000} s: ${err.trim()}`));
        }, readyMs);
        const onOut = (b: Buffer) => {
          out += b.toString();
          if (out.includes("READY")) {
            clearTimeout(timer);
            p.stdout!.off("data", onOut);
            p.stdout!.on("data", (x: Buffer) => opts.log?.(x.toString()));
            res(p);
          }
        };
        p.stdout!.on("data", onOut);
        p.stderr!.on("data", (b: Buffer) => {
          err += b.toString();
          opts.log?.(b.toString());
        });
        p.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`sim board process exited (${code}) before it was ready: ${err.trim()}`));
        });
      });

    const first = await launch().catch(async (e: unknown) => {
      await pty.close();
      throw e;
    });
    const sim: Sim = {
      port: pty.hostLink,
      pty,
      board: first,
      async killBoard() {
        const b = sim.board;
        if (b.exitCode !== null || b.signalCode !== null) return;
        await new Promise<void>((r) => {
          b.once("exit", () => r());
          b.kill("SIGKILL");
        });
      },
      async startBoard() {
        sim.board = await launch();
      },
      async stop() {
        const b = sim.board;
        if (b.exitCode === null && b.signalCode === null) {
          await new Promise<void>((r) => {
            b.once("exit", () => r());
            b.kill("SIGTERM");
          });
        }
        await pty.close();
        cleanup();
      },
    };
    return sim;
  } catch (e) {
    cleanup();
    throw e;
  }
}
