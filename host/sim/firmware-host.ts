// Hosts the firmware .wasm in Node with the HAL of device/HAL.md: the UART is a byte queue in
// (feed) and a callback out (onTx), millis is performance.now(), storage is a byte array that
// is optionally persisted to a file. Used in-process by tests and by the `sim` board process.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

export interface FirmwareHostOptions {
  /** Persistent storage file (created, 0xFF-filled, on first use); none = in memory only. */
  storagePath?: string;
  /** Storage bytes (default 64 KiB). */
  storageSize?: number;
  /** Written to the firmware's BOARD_ID before init() (HELLO reports it). */
  boardId?: string;
  /** Millisecond clock (default performance.now()). */
  millis?: () => number;
}

interface FirmwareExports {
  memory: WebAssembly.Memory;
  init(): void;
  poll(): void;
  /** Optional: 1 while the firmware has work spread over several polls. */
  busy?(): number;
  BOARD_ID?: WebAssembly.Global;
}

export class FirmwareAbort extends Error {
  constructor(line: number, col: number) {
    super(`firmware ABORT ${line}:${col}`);
    this.name = "FirmwareAbort";
  }
}

export class FirmwareHost {
  /** Bytes the host sent that the firmware has not read yet. */
  private rx: Uint8Array[] = [];
  private rxOff = 0;
  private rxBytes = 0;
  private storage: Uint8Array;
  onTx: (bytes: Uint8Array) => void = () => {};
  readonly exports: FirmwareExports;

  private constructor(
    readonly instance: WebAssembly.Instance,
    storage: Uint8Array,
  ) {
    this.exports = instance.exports as unknown as FirmwareExports;
    this.storage = storage;
  }

  static async create(wasm: Uint8Array, opts: FirmwareHostOptions = {}): Promise<FirmwareHost> {
    const size = opts.storageSize ?? 65536;
    let storage = new Uint8Array(size).fill(0xff);
    if (opts.storagePath && existsSync(opts.storagePath)) {
      const f = readFileSync(opts.storagePath);
      storage.set(f.subarray(0, size));
    }
    const clock = opts.millis ?? (() => performance.now());
    let host: FirmwareHost;
    const mem = () => new Uint8Array(host.exports.memory.buffer);
    const imports = {
      hal: {
        uart_write: (ptr: number, len: number) => {
          host.onTx(mem().slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0)));
        },
        uart_read: (ptr: number, cap: number) => host.uartRead(ptr >>> 0, cap >>> 0),
        millis: () => Math.floor(clock()) >>> 0,
        storage_size: () => storage.length,
        storage_read: (off: number, ptr: number, len: number) => {
          off >>>= 0;
          if (off >= storage.length) return 0;
          const n = Math.min(len >>> 0, storage.length - off);
          mem().set(storage.subarray(off, off + n), ptr >>> 0);
          return n;
        },
        storage_write: (off: number, ptr: number, len: number) => {
          off >>>= 0;
          if (off >= storage.length) return 0;
          const n = Math.min(len >>> 0, storage.length - off);
          storage.set(mem().subarray(ptr >>> 0, (ptr >>> 0) + n), off);
          if (opts.storagePath) writeFileSync(opts.storagePath, storage);
          return n;
        },
      },
      env: {
        abort: (_msg: number, _file: number, line: number, col: number) => {
          throw new FirmwareAbort(line, col);
        },
      },
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), imports);
    host = new FirmwareHost(instance, storage);
    if (opts.boardId && host.exports.BOARD_ID) {
      const at = host.exports.BOARD_ID.value as number;
      const id = new TextEncoder().encode(opts.boardId.slice(0, 15));
      const m = mem();
      m.fill(0, at, at + 16);
      m.set(id, at);
    }
    return host;
  }

  private uartRead(ptr: number, cap: number): number {
    const m = new Uint8Array(this.exports.memory.buffer);
    let n = 0;
    while (n < cap && this.rx.length > 0) {
      const head = this.rx[0]!;
      const take = Math.min(cap - n, head.length - this.rxOff);
      m.set(head.subarray(this.rxOff, this.rxOff + take), ptr + n);
      n += take;
      this.rxOff += take;
      if (this.rxOff === head.length) {
        this.rx.shift();
        this.rxOff = 0;
      }
    }
    this.rxBytes -= n;
    return n;
  }

  /** Queues bytes for the firmware's UART. */
  feed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.rx.push(bytes.slice());
    this.rxBytes += bytes.length;
  }

  /** Bytes queued but not yet read by the firmware. */
  get pendingInput(): number {
    return this.rxBytes;
  }

  init(): void {
    this.exports.init();
  }

  poll(): void {
    this.exports.poll();
  }

  /** True while the firmware reports work in progress (optional `busy` export). */
  get busy(): boolean {
    return this.exports.busy ? this.exports.busy() !== 0 : false;
  }

  /** Polls until the input queue is drained and the firmware is not busy (at most `max` polls). */
  pump(max = 1_000_000): number {
    let k = 0;
    do {
      this.exports.poll();
      k++;
    } while ((this.rxBytes > 0 || this.busy) && k < max);
    return k;
  }

  get storageBytes(): Uint8Array {
    return this.storage;
  }
}
