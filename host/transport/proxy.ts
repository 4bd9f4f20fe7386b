// The fault-injecting link as a proxy between host and board: opens the board's serial port
// and a fresh socat pty pair, and copies bytes between the board and the pair's board end
// through one FaultInjector per direction. The host (any program) opens `port` instead of the
// board's port and sees a line that drops, flips and duplicates bytes at `rate`.
import { openPtyPair } from "./pty-pair.ts";
import type { PtyPair } from "./pty-pair.ts";
import { faultProxy } from "./fault.ts";
import type { FaultInjector, FaultOptions } from "./fault.ts";
import { SerialTransport } from "./serial.ts";

export interface FaultProxy {
  /** The port to give the host. */
  port: string;
  pty: PtyPair;
  toBoard: FaultInjector;
  toHost: FaultInjector;
  stop(): Promise<void>;
}

export async function startFaultProxy(boardPort: string, dir: string, opts: FaultOptions): Promise<FaultProxy> {
  const board = await SerialTransport.open(boardPort);
  const pty = await openPtyPair(dir);
  const hostSide = await SerialTransport.open(pty.boardLink);
  const p = faultProxy(hostSide, board, opts);
  return {
    port: pty.hostLink,
    pty,
    toBoard: p.aToB,
    toHost: p.bToA,
    async stop() {
      await p.stop();
      await pty.close();
    },
  };
}
