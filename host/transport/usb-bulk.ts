// Transport over a USB vendor-class interface with one bulk OUT and one bulk IN endpoint, for
// boards that expose that instead of a CDC serial port. The protocol above it is unchanged:
// COBS frames are just bytes here too.
import type { UsbLink } from "../usb/link.ts";
import type { Transport } from "./transport.ts";

export interface UsbBulkOptions {
  endpointOut: number;
  endpointIn: number;
  /** Bytes asked for per IN transfer (a multiple of the endpoint's max packet size). */
  readSize?: number;
}

export class UsbBulkTransport implements Transport {
  private dataCb: (chunk: Uint8Array) => void = () => {};
  private errorCb: (err: Error) => void = () => {};
  private closed = false;
  private writes: Promise<void> = Promise.resolve();
  private readonly reader: Promise<void>;

  constructor(
    private readonly link: UsbLink,
    readonly name: string,
    private readonly opts: UsbBulkOptions,
  ) {
    this.reader = this.readLoop();
  }

  private fail(err: unknown): void {
    if (!this.closed) this.errorCb(err instanceof Error ? err : new Error(String(err)));
  }

  private async readLoop(): Promise<void> {
    const size = this.opts.readSize ?? 512;
    while (!this.closed) {
      try {
        const r = await this.link.transferIn(this.opts.endpointIn, size);
        if (this.closed) return;
        if (r.status !== "ok") throw new Error(`bulk IN endpoint ${this.opts.endpointIn}: ${r.status}`);
        if (r.data && r.data.byteLength > 0) this.dataCb(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice());
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    const copy = data.slice();
    // Transfers go out one at a time, in order, as a serial line would send them.
    this.writes = this.writes.then(async () => {
      if (this.closed) return;
      const r = await this.link.transferOut(this.opts.endpointOut, copy);
      if (r.status !== "ok" || r.bytesWritten !== copy.length) throw new Error(`bulk OUT endpoint ${this.opts.endpointOut}: ${r.status}`);
    }).catch((err) => this.fail(err));
  }

  onData(cb: (chunk: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onError(cb: (err: Error) => void): void {
    this.errorCb = cb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    await this.link.close();
    await this.reader;
  }
}
