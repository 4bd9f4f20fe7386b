// Fault injection: corrupts a byte stream at a given per-byte rate by dropping, flipping (one
// random bit) or duplicating bytes. FaultyTransport wraps any Transport (both directions get
// their own injector); the sim board process and `--fault-rate` use the same injector.
import { Pcg32 } from "../rng/pcg32.ts";
import type { Transport } from "./transport.ts";

export interface FaultOptions {
  /** Probability that a given byte is hit by a fault (e.g. 1e-3). */
  rate: number;
  /** Seed of the fault pattern (default 1): the same seed gives the same faults. */
  seed?: number;
  /** Relative weights of the fault kinds (default 1:1:1). */
  drop?: number;
  flip?: number;
  duplicate?: number;
}

export interface FaultStats {
  bytes: number;
  dropped: number;
  flipped: number;
  duplicated: number;
}

export class FaultInjector {
  readonly stats: FaultStats = { bytes: 0, dropped: 0, flipped: 0, duplicated: 0 };
  private readonly rng: Pcg32;
  /** Bytes to let through before the next fault. */
  private gap: number;
  private readonly wDrop: number;
  private readonly wFlip: number;

  constructor(private readonly opts: FaultOptions, stream = 0) {
    if (!(opts.rate >= 0 && opts.rate < 1)) throw new Error(`fault rate must be in [0, 1), got ${opts.rate}`);
    this.rng = new Pcg32(opts.seed ?? 1, 0x5eed + stream);
    const d = opts.drop ?? 1, f = opts.flip ?? 1, u = opts.duplicate ?? 1;
    const s = d + f + u;
    this.wDrop = d / s;
    this.wFlip = (d + f) / s;
    this.gap = this.nextGap();
  }

  /** Geometric gap between faults (so the cost is per fault, not per byte). */
  private nextGap(): number {
    if (this.opts.rate <= 0) return Infinity;
    const u = 1 - this.rng.uniform(); // (0, 1]
    return Math.floor(Math.log(u) / Math.log1p(-this.opts.rate));
  }

  process(chunk: Uint8Array): Uint8Array {
    this.stats.bytes += chunk.length;
    if (this.gap >= chunk.length) {
      this.gap -= chunk.length;
      return chunk;
    }
    const out: number[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.gap > 0) {
        const n = Math.min(this.gap, chunk.length - i);
        for (let k = 0; k < n; k++) out.push(chunk[i + k]!);
        i += n;
        this.gap -= n;
        continue;
      }
      const b = chunk[i++]!;
      const kind = this.rng.uniform();
      if (kind < this.wDrop) {
        this.stats.dropped++;
      } else if (kind < this.wFlip) {
        out.push(b ^ (1 << (this.rng.next() & 7)));
        this.stats.flipped++;
      } else {
        out.push(b, b);
        this.stats.duplicated++;
      }
      this.gap = this.nextGap();
    }
    return Uint8Array.from(out);
  }
}

/** A transport whose bytes, in both directions, go through a FaultInjector. */
export class FaultyTransport implements Transport {
  readonly toDevice: FaultInjector;
  readonly toHost: FaultInjector;
  private readonly rate: number;

  constructor(
    private readonly inner: Transport,
    opts: FaultOptions,
  ) {
    this.rate = opts.rate;
    this.toDevice = new FaultInjector(opts, 1);
    this.toHost = new FaultInjector(opts, 2);
  }

  get name(): string {
    return `${this.inner.name} (byte fault rate ${this.rate})`;
  }

  write(data: Uint8Array): void {
    const d = this.toDevice.process(data);
    if (d.length > 0) this.inner.write(d);
  }

  onData(cb: (chunk: Uint8Array) => void): void {
    this.inner.onData((c) => {
      const d = this.toHost.process(c);
      if (d.length > 0) cb(d);
    });
  }

  onError(cb: (err: Error) => void): void {
    this.inner.onError(cb);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Pipes two transports into each other through fault injectors: a proxy between a host-side
 * port and a board-side port (e.g. two ptys). Returns a stop function.
 */
export function faultProxy(a: Transport, b: Transport, opts: FaultOptions): { stop(): Promise<void>; aToB: FaultInjector; bToA: FaultInjector } {
  const aToB = new FaultInjector(opts, 3);
  const bToA = new FaultInjector(opts, 4);
  a.onData((c) => {
    const d = aToB.process(c);
    if (d.length) b.write(d);
  });
  b.onData((c) => {
    const d = bToA.process(c);
    if (d.length) a.write(d);
  });
  return {
    aToB,
    bToA,
    async stop() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}
