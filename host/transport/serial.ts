// Transport over a serial port (serialport): USB-serial bridges, USB CDC, and the
// pseudo-terminals of the sim board and QEMU.
import { SerialPort } from "serialport";
import { InputError } from "../input/errors.ts";
import type { Transport } from "./transport.ts";

export interface SerialOptions {
  /** Baud rate (ignored by ptys and USB CDC; default 115200). */
  baudRate?: number;
}

/** The part of @serialport/bindings-cpp's unix Poller this module relies on. */
interface UnixPoller {
  poll(flags: number): void;
  listenerCount(event: string): number;
}

const UV_READABLE = 1;
const UV_WRITABLE = 2;

/**
 * @serialport/bindings-cpp 13 keeps one uv_poll per port and re-arms it with only the event just
 * asked for: a read waiting for "readable" disarms a write waiting for "writable" and the other
 * way round. Under a burst (the line is full in both directions) the write then waits for an
 * event nobody polls, and the link stalls until the other side happens to send. Poll for every
 * event someone is waiting for instead. (Unix ports only; Windows has no Poller.)
 */
function pollForEveryWaiter(port: SerialPort): void {
  const poller = (port as unknown as { port?: { poller?: UnixPoller } }).port?.poller;
  if (!poller || typeof poller.poll !== "function") return;
  const poll = poller.poll.bind(poller);
  poller.poll = (flags: number) =>
    poll(flags | (poller.listenerCount("readable") ? UV_READABLE : 0) | (poller.listenerCount("writable") ? UV_WRITABLE : 0));
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

  /** Opens `path`; a port that does not exist or cannot be opened is an InputError naming it. */
  static open(path: string, opts: SerialOptions = {}): Promise<SerialTransport> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: opts.baudRate ?? 115200, autoOpen: false });
      port.open((err) => {
        if (err) {
          reject(new InputError("--port", `cannot open serial port ${path}: ${err.message.replace(/^Error: /, "")}`));
          return;
        }
        pollForEveryWaiter(port);
        resolve(new SerialTransport(port, path));
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

  /** Resolves once everything written so far has left this process. */
  drain(): Promise<void> {
    return new Promise((resolve) => (this.closed || !this.port.isOpen ? resolve() : this.port.drain(() => resolve())));
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
