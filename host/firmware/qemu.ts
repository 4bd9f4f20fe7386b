// Booting firmware on an emulated board: qemu-system-arm with the board's UART0 on a host
// pseudo-terminal (`-serial pty`, the same path the host later opens with `serialport`), the
// HMP monitor on a unix socket, and optionally the instruction-counting TCG plugin
// (host/firmware/qemu/icount.c). QEMU starts paused (-S) and is resumed once the caller has the
// pty open, so the firmware's greeting is never written to a pty nobody reads (QEMU drops such
// bytes).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { spawnTied } from "../process/tied.ts";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { SerialTransport } from "../transport/serial.ts";
import type { Board } from "../../boards/index.ts";
import { InputError } from "../input/errors.ts";
import { cacheDir, repoPath, stateSubdir } from "../paths.ts";
import { requireTool } from "./tools.ts";

const run = promisify(execFile);
/** QEMU boards' monitor sockets, logs and counter reports: run files in the per-user state folder. */
export const qemuDir = (): string => stateSubdir("qemu");
const PLUGIN_SRC = repoPath("host", "firmware", "qemu", "icount.c");

/** Compile the icount plugin with the host gcc (cached by source hash); returns the .so path. */
export async function buildIcountPlugin(): Promise<string> {
  const src = readFileSync(PLUGIN_SRC);
  const key = createHash("sha256").update(src).digest("hex").slice(0, 12);
  const dir = cacheDir("qemu-plugins");
  const so = join(dir, `icount-${key}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  const tmp = `${so}.tmp-${process.pid}`;
  await run(requireTool("gcc"), ["-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, PLUGIN_SRC]);
  renameSync(tmp, so);
  return so;
}

export interface IcountOptions {
  /** File the plugin writes its reports to. */
  out: string;
  /** Probe addresses (Thumb bit ignored): see icount.c. */
  mark?: number;
  begin?: number;
  end?: number;
  io?: number;
}

export interface IcountReport {
  marks: number[];
  polls: number[];
  total?: number;
}

export function parseIcount(text: string): IcountReport {
  const r: IcountReport = { marks: [], polls: [] };
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(" ");
    if (v === undefined) continue;
    if (k === "mark") r.marks.push(Number(v));
    else if (k === "poll") r.polls.push(Number(v));
    else if (k === "total") r.total = Number(v);
  }
  return r;
}

export function qemuMachine(board: Board): string {
  if (board.flash.method !== "qemu" || !board.qemu) {
    throw new InputError("--board", `board ${board.id} is not emulated by QEMU (flash method ${board.flash.method})`);
  }
  return board.qemu.machine;
}

export interface QemuStartOptions {
  board: Board;
  /** ELF to boot (-kernel). */
  elf: string;
  /** Run even after this process exits (for `edgeprop flash`). */
  detached?: boolean;
  icount?: IcountOptions;
  /** Extra QEMU arguments (e.g. semihosting for test programs). */
  extraArgs?: string[];
  /** Serial backend: "pty" (default) or "none" (programs that only talk through semihosting). */
  serial?: "pty" | "none";
  /** Start running at once instead of paused. */
  running?: boolean;
  /**
   * Another QEMU machine than the board's own, for running a real board's image on a compatible
   * emulated SoC (nucleo-f446re on netduinoplus2, an STM32F405), and which of its UARTs is the
   * board's (QEMU serial index; the ones before it are connected to null).
   */
  machine?: string;
  serialIndex?: number;
}

export interface QemuInstance {
  board: string;
  pid: number;
  /** Host pseudo-terminal of the board's UART0 (undefined with serial "none"). */
  pty?: string;
  monitor: string;
  log: string;
  child: ChildProcess;
  /** Resolves with the exit code when QEMU exits. */
  exited: Promise<number | null>;
}

/** Send one HMP command to the monitor socket. */
export async function monitorCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const sock = createConnection(socketPath);
    let text = "";
    const timer = setTimeout(() => {
      sock.destroy();
      resolvePromise(text);
    }, 2000);
    sock.on("data", (d) => {
      text += d.toString("latin1");
      // The prompt after our command's output means it has been processed.
      if (text.split("(qemu)").length > 2) {
        clearTimeout(timer);
        sock.end();
        resolvePromise(text);
      }
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on("connect", () => sock.write(command + "\n"));
  });
}

let instanceSeq = 0;

export async function startQemu(opts: QemuStartOptions): Promise<QemuInstance> {
  const machine = opts.machine ?? qemuMachine(opts.board);
  const serialIndex = opts.serialIndex ?? 0;
  const qemu = requireTool("qemu-system-arm");
  if (!existsSync(opts.elf)) throw new InputError(opts.elf, "firmware ELF not found");
  const dir = qemuDir();
  const tag = `${opts.board.id}-${process.pid}-${++instanceSeq}-${Date.now()}`;
  const monitor = join(dir, `${tag}.mon`);
  const log = join(dir, `${tag}.log`);
  const serial = opts.serial ?? "pty";
  const args = [
    "-M", machine,
    "-display", "none",
    ...(serial === "pty" ? Array.from({ length: serialIndex }, () => ["-serial", "null"]).flat() : []),
    "-serial", serial,
    "-monitor", `unix:${monitor},server=on,wait=off`,
    "-kernel", opts.elf,
    ...(opts.running ? [] : ["-S"]),
  ];
  if (opts.icount) {
    const so = await buildIcountPlugin();
    // the plugin opens its report file itself and fails QEMU's start-up if the folder is missing
    mkdirSync(dirname(opts.icount.out), { recursive: true });
    const kv = [`out=${opts.icount.out}`];
    for (const k of ["mark", "begin", "end", "io"] as const) {
      const v = opts.icount[k];
      if (v !== undefined) kv.push(`${k}=0x${v.toString(16)}`);
    }
    args.push("-plugin", [so, ...kv].join(","));
  }
  args.push(...(opts.extraArgs ?? []));
  const logFd = openSync(log, "w");
  // A detached QEMU (`edgeprop flash`) is meant to outlive the CLI; any other dies with its host.
  const child = opts.detached === true
    ? spawn(qemu, args, { stdio: ["ignore", logFd, logFd], detached: true })
    : spawnTied(qemu, args, { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  if (opts.detached) child.unref();
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c === null ? -1 : c));

  // QEMU announces the pty on stderr: "char device redirected to /dev/pts/N (label serial0)".
  const deadline = Date.now() + 10_000;
  let pty: string | undefined;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    const m = new RegExp(`char device redirected to (\\S+) \\(label serial${serialIndex}\\)`).exec(text);
    if (m) pty = m[1];
    const ready = (serial === "none" || pty !== undefined) && existsSync(monitor);
    if (ready) break;
    if (exitCode !== undefined) {
      // A program run to completion (runIcount) may be done before we look.
      if (opts.running && serial === "none" && exitCode === 0) break;
      throw new Error(`qemu-system-arm exited (${exitCode}) before it was ready:\n${text}`);
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`qemu-system-arm did not come up within 10 s:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { board: opts.board.id, pid: child.pid!, ...(pty ? { pty } : {}), monitor, log, child, exited };
}

/** Resume a QEMU started paused. */
export async function resumeQemu(q: QemuInstance): Promise<void> {
  await monitorCommand(q.monitor, "cont");
}

/** Stop QEMU (monitor `quit`, then SIGKILL if it lingers) and remove its socket. */
export async function stopQemu(q: QemuInstance): Promise<void> {
  if (q.child.exitCode === null && q.child.signalCode === null) {
    try {
      await monitorCommand(q.monitor, "quit");
    } catch {
      /* already gone */
    }
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 3000));
    if ((await Promise.race([q.exited, timeout])) === "timeout") q.child.kill("SIGKILL");
  }
  rmSync(q.monitor, { force: true });
}

/**
 * Line helpers over a serial connection to a board (a pty for QEMU/sim, a tty for real boards),
 * for modules that greet and echo in text (the echo fixture). Built on SerialTransport, the one
 * serialport wrapper.
 */
export class SerialLink {
  private buffer = "";
  private waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  /** The port it opened (`port.path`). */
  readonly port: { readonly path: string };

  private constructor(private readonly transport: SerialTransport) {
    this.port = { path: transport.name };
    transport.onData((d) => {
      this.buffer += Buffer.from(d).toString("latin1");
      this.check();
    });
  }

  static async open(path: string, baudRate = 115200): Promise<SerialLink> {
    return new SerialLink(await SerialTransport.open(path, { baudRate }));
  }

  /** Everything received so far. */
  get received(): string {
    return this.buffer;
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      const m = w.pattern.exec(this.buffer);
      if (m) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        this.buffer = this.buffer.slice(m.index + m[0].length);
        w.resolve(m);
      }
    }
  }

  /** Wait until `pattern` matches the unconsumed input; consumes through the match. */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} (received ${JSON.stringify(this.buffer.slice(-200))})`));
      }, timeoutMs);
      this.waiters.push({ pattern, resolve, reject, timer });
      this.check();
    });
  }

  async write(data: string | Uint8Array): Promise<void> {
    this.transport.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
    await this.transport.drain();
  }

  close(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters = [];
    return this.transport.close();
  }
}

/** The default readiness signal: the firmware's greeting line (the echo fixture says "HELLO echo 1"). */
export const DEFAULT_READY = /HELLO[^\n]*\n/;

export interface BootedBoard {
  qemu: QemuInstance;
  link: SerialLink;
  greeting: string;
}

/**
 * How to tell that the firmware is up: a pattern its greeting matches (the echo fixture says
 * "HELLO echo 1"), or a function that talks to it (e.g. the protocol's HELLO request) and
 * resolves with a description of the answer.
 */
export type ReadyCheck = RegExp | ((link: SerialLink, timeoutMs: number) => Promise<string>);

/** Boot an ELF on an emulated board, open its pty, resume, and wait until it is ready. */
export async function bootQemu(opts: QemuStartOptions & { ready?: ReadyCheck; timeoutMs?: number }): Promise<BootedBoard> {
  const qemu = await startQemu({ ...opts, running: false, serial: "pty" });
  let link: SerialLink | undefined;
  try {
    link = await SerialLink.open(qemu.pty!, opts.board.transport.baud);
    await resumeQemu(qemu);
    const ready = opts.ready ?? DEFAULT_READY;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const greeting = ready instanceof RegExp ? (await link.waitFor(ready, timeoutMs))[0].trim() : await ready(link, timeoutMs);
    return { qemu, link, greeting };
  } catch (err) {
    await link?.close();
    await stopQemu(qemu);
    throw err;
  }
}

/**
 * Run a bare-metal program that ends itself through semihosting (SYS_EXIT) on an emulated board
 * under the instruction counter, and return the counter's report. For measuring a known piece
 * of code; firmware that runs forever is measured with bootQemu({ icount }) instead.
 */
export async function runIcount(
  board: Board,
  elf: string,
  probes: Omit<IcountOptions, "out"> = {},
  timeoutMs = 20_000,
): Promise<IcountReport & { exitCode: number | null }> {
  const out = join(qemuDir(), `icount-${process.pid}-${++instanceSeq}-${Date.now()}.txt`);
  const q = await startQemu({
    board,
    elf,
    serial: "none",
    running: true,
    icount: { ...probes, out },
    extraArgs: ["-semihosting-config", "enable=on,target=native"],
  });
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs));
  const code = await Promise.race([q.exited, timer]);
  if (code === "timeout") {
    await stopQemu(q);
    throw new Error(`${elf} did not exit within ${timeoutMs} ms`);
  }
  rmSync(q.monitor, { force: true });
  const report = parseIcount(existsSync(out) ? readFileSync(out, "utf8") : "");
  rmSync(out, { force: true });
  return { ...report, exitCode: code };
}
