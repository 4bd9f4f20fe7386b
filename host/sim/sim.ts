// The simulated board: a socat pty pair plus a separate Node process hosting the firmware .wasm
// on one end (host/sim/board-main.ts). The host talks to `port` like to any serial board.
// The board process can be killed and restarted while the pty pair (the "cable") stays.
import { spawnTied } from "../process/tied.ts";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { buildFirmware } from "../../device/firmware/build.ts";
import { REPO_ROOT } from "../paths.ts";
import { openPtyPair } from "../transport/pty-pair.ts";
import type { PtyPair } from "../transport/pty-pair.ts";

export interface SimOptions {
  /** Directory for the pty links and the default storage file (default runs/sim). */
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
  const dir = opts.dir ?? join(REPO_ROOT, "runs", "sim");
  const wasm = opts.wasm ?? (await buildFirmware()).wasmPath;
  const pty = await openPtyPair(dir);
  const args = [
    "--import", "tsx", join(REPO_ROOT, "host/sim/board-main.ts"),
    "--port", pty.boardLink, "--wasm", wasm, "--storage", opts.storage ?? join(dir, "storage.bin"),
    "--board-id", opts.boardId ?? "sim",
  ];
  if (opts.faultRate) args.push("--fault-rate", String(opts.faultRate), "--fault-seed", String(opts.faultSeed ?? 1));

  const launch = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const p = spawnTied(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      const onOut = (b: Buffer) => {
        out += b.toString();
        if (out.includes("READY")) {
          p.stdout!.off("data", onOut);
          p.stdout!.on("data", (x: Buffer) => opts.log?.(x.toString()));
          resolve(p);
        }
      };
      p.stdout!.on("data", onOut);
      p.stderr!.on("data", (b: Buffer) => {
        err += b.toString();
        opts.log?.(b.toString());
      });
      p.once("exit", (code) => reject(new Error(`sim board process exited (${code}) before it was ready: ${err.trim()}`)));
    });

  const sim: Sim = {
    port: pty.hostLink,
    pty,
    board: await launch(),
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
    },
  };
  return sim;
}
