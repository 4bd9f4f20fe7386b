// Child processes that must not outlive the host: a simulated board, its socat pty pair, QEMU.
// `setpriv --pdeathsig` (util-linux, part of every Debian system) asks the kernel to send the
// child SIGTERM when its parent exits for any reason — SIGKILL included, when no cleanup code
// runs — so a killed `edgeprop train` leaves no board busy-polling a core behind it.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn("setpriv", ["--pdeathsig", "TERM", "--", command, ...args], options);
}
