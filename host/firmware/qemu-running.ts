// What `edgeprop flash` leaves behind for a QEMU board it booted detached, and how `--stop`
// undoes it without trusting the record: the state file (in the per-user state folder) is
// input like any other. `--stop` signals the pid only if that process is still the QEMU it
// started — the same start time (/proc/PID/stat) and a command line naming qemu-system-arm and
// its own monitor socket — and deletes only the files it created, inside the QEMU state folder.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { InputError } from "../input/errors.ts";
import { intIn, obj, parseJsonLenient, text } from "../input/fields.ts";
import { monitorCommand, qemuDir } from "./qemu.ts";

export interface RunningQemu {
  board: string;
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22). */
  startTicks: number;
  pty: string;
  monitor: string;
  log: string;
  elf: string;
}

export const stateFile = (board: string): string => join(qemuDir(), `${board}.running.json`);

/** Start time of `pid` (clock ticks since boot), or undefined when there is no such process. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (the command) may hold spaces and parentheses: count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[19]); // field 22 = index 19 after "pid (comm) "
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

export function saveRunning(r: RunningQemu): void {
  writeFileSync(stateFile(r.board), JSON.stringify(r, null, 2) + "\n");
}

/** A file recorded in the state is deleted only if it is ours: in the QEMU folder, named after the board. */
function ownFile(path: string, board: string): boolean {
  const dir = resolve(qemuDir());
  const p = resolve(path);
  return dirname(p) === dir && p.startsWith(dir + sep) && basename(p).startsWith(`${board}-`);
}

function readRunning(file: string, board: string): RunningQemu {
  const o = obj(parseJsonLenient(readFileSync(file, "utf8"), file), file);
  const r: RunningQemu = {
    board: text(o.board, `${file}: board`),
    pid: intIn(o.pid, `${file}: pid`, 2, 2 ** 22),
    startTicks: intIn(o.startTicks, `${file}: startTicks`, 0, Number.MAX_SAFE_INTEGER),
    pty: text(o.pty, `${file}: pty`),
    monitor: text(o.monitor, `${file}: monitor`),
    log: text(o.log, `${file}: log`),
    elf: text(o.elf, `${file}: elf`),
  };
  if (r.board !== board) throw new InputError(`${file}: board`, `expected '${board}', got '${r.board}'`);
  return r;
}

export interface StopOutcome {
  record: RunningQemu;
  /** Whether the recorded process was the QEMU we started (and so was stopped). */
  stopped: boolean;
  /** Why it was left alone, when it was. */
  note?: string;
}

/** Stops the QEMU board an earlier `edgeprop flash` started; undefined if none is recorded. */
export async function stopRunning(board: string): Promise<StopOutcome | undefined> {
  const file = stateFile(board);
  if (!existsSync(file)) return undefined;
  let record: RunningQemu;
  try {
    record = readRunning(file, board);
  } catch (err) {
    rmSync(file, { force: true }); // our own file, unreadable: nothing in it can be trusted
    throw err;
  }
  const args = cmdline(record.pid);
  const same =
    processStartTicks(record.pid) === record.startTicks &&
    basename(args[0] ?? "") === "qemu-system-arm" &&
    args.some((a) => a.startsWith(`unix:${record.monitor},`));
  let note: string | undefined;
  if (same) {
    const viaMonitor = ownFile(record.monitor, board) && (await monitorCommand(record.monitor, "quit").then(() => true, () => false));
    if (!viaMonitor) {
      try {
        process.kill(record.pid, "SIGTERM");
      } catch {
        /* exited meanwhile */
      }
    }
  } else {
    note = `pid ${record.pid} is not the QEMU edgeprop started (it has exited or the pid was reused): left alone`;
  }
  for (const f of [record.monitor, record.log]) if (ownFile(f, board)) rmSync(f, { force: true });
  rmSync(file, { force: true });
  return { record, stopped: same, ...(note ? { note } : {}) };
}
