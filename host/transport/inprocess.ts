// Transport to a firmware instance hosted in this process (FirmwareHost): no serial line, the
// same bytes. Used by tests; the sim board process uses FirmwareHost behind a real pty instead.
import type { FirmwareHost } from "../sim/firmware-host.ts";
import type { Transport } from "./transport.ts";

export class InProcessTransport implements Transport {
  readonly name = "in-process";
  private dataCb: (chunk: Uint8Array) => void = () => {};
  private errorCb: (err: Error) => void = () => {};
  private timer: ReturnType<typeof setInterval>;
  private scheduled = false;
  private closed = false;

  /**
   * `idlePollMs`: how often the firmware is polled when nothing arrives (pending work).
   * `slow`: poll only once per tick (a slow MCU: long requests span many ticks, so the host sees
   * retransmissions answered with ACK); default: poll until input is drained and not busy.
   */
  constructor(
    readonly fw: FirmwareHost,
    idlePollMs = 1,
    private readonly slow = false,
  ) {
    fw.onTx = (bytes) => {
      // deliver asynchronously, like a wire
      queueMicrotask(() => {
        if (!this.closed) this.dataCb(bytes);
      });
    };
    this.timer = setInterval(() => this.pump(), idlePollMs);
    this.timer.unref();
  }

  private pump(): void {
    this.scheduled = false;
    if (this.closed) return;
    try {
      if (this.slow) this.fw.poll();
      else this.fw.pump();
    } catch (e) {
      this.errorCb(e instanceof Error ? e : new Error(String(e)));
    }
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    this.fw.feed(data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.pump());
    }
  }

  onData(cb: (chunk: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onError(cb: (err: Error) => void): void {
    this.errorCb = cb;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
  }
}
