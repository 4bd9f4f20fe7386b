// Opens the transport to a board from command-line style options: a serial port (real board,
// `edgeprop sim`'s pty, QEMU's pty), optionally behind the fault injector (`--fault-rate`).
import { FaultyTransport } from "./fault.ts";
import { SerialTransport } from "./serial.ts";
import type { Transport } from "./transport.ts";

export interface OpenOptions {
  port: string;
  baudRate?: number;
  /** Per-byte fault rate injected on this host's side of the link, both directions (0 = none). */
  faultRate?: number;
  faultSeed?: number;
}

export async function openTransport(o: OpenOptions): Promise<Transport> {
  const t = await SerialTransport.open(o.port, { baudRate: o.baudRate });
  if (o.faultRate && o.faultRate > 0) return new FaultyTransport(t, { rate: o.faultRate, seed: o.faultSeed ?? 1 });
  return t;
}
