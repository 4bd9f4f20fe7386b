// A transport moves bytes between the host and a board; it knows nothing about frames.
// Implementations: SerialTransport (serialport: real USB-serial boards, the sim board's pty,
// QEMU's pty), InProcessTransport (the firmware .wasm in this process, for tests), and
// FaultyTransport (wraps any other and injects byte faults). Other transports plug in here.

export interface Transport {
  /** Human-readable endpoint, e.g. "/dev/ttyACM0" or "in-process". */
  readonly name: string;
  /** Queues bytes for sending (never blocks; order is kept). */
  write(data: Uint8Array): void;
  /** Sets the single receiver of incoming bytes. */
  onData(cb: (chunk: Uint8Array) => void): void;
  /** Sets the receiver of a fatal transport error (port vanished, board process died). */
  onError(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** Counts the bytes through a transport (link-efficiency figures). */
export class CountingTransport implements Transport {
  bytesOut = 0;
  bytesIn = 0;
  constructor(private readonly inner: Transport) {}
  get name(): string {
    return this.inner.name;
  }
  write(data: Uint8Array): void {
    this.bytesOut += data.length;
    this.inner.write(data);
  }
  onData(cb: (chunk: Uint8Array) => void): void {
    this.inner.onData((c) => {
      this.bytesIn += c.length;
      cb(c);
    });
  }
  onError(cb: (err: Error) => void): void {
    this.inner.onError(cb);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
