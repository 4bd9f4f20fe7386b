// Transport over a serial port (serialport): USB-serial bridges, USB CDC, and the
// pseudo-terminals of the sim board and QEMU.
import { SerialPort } from "serialport";
import type { Transport } from "./transport.ts";

export interface SerialOptions {
  /** Baud rate (ignored by ptys and USB CDC; default 115200). */
  baudRate?: number;
}

export class SerialTransport implements Transport {
  private dataCb: (chunk: Uint8Array) => void = () => {};
  private errorCb: (err: Error) => void = () => {};
  private closed = false;

  private constructor(
    private readonly port: SerialPort,
    readonly name: string,
  ) {
    port.on("data", (b: Buffer) => this.dataCb(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    port.on("error", (e: Error) => this.errorCb(e));
    port.on("close", () => {
      if (!this.closed) this.errorCb(new Error(`serial port ${name} closed`));
    });
  }

  static open(path: string, opts: SerialOptions = {}): Promise<SerialTransport> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: opts.baudRate ?? 115200, autoOpen: false });
      port.open((err) => {
        if (err) reject(new Error(`cannot open serial port ${path}: ${err.message}`));
        else resolve(new SerialTransport(port, path));
      });
    });
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    this.port.write(Buffer.from(data.buffer, data.byteOffset, data.length));
  }

  onData(cb: (chunk: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onError(cb: (err: Error) => void): void {
    this.errorCb = cb;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}
