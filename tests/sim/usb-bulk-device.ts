// SIMULATION of a board with a USB vendor-class interface (bulk OUT 0x01 / bulk IN 0x81) whose
// firmware is the real firmware .wasm hosted in this process; for tests only, since no
// physical USB device is attached here. IN transfers wait for data like a real pending URB.
import type { FirmwareHost } from "../../host/sim/firmware-host.ts";
import type { UsbLink } from "../../host/usb/link.ts";

export class SimulatedUsbBulkBoard implements UsbLink {
  private pending: Uint8Array[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly fw: FirmwareHost, readonly maxPacket = 64) {
    fw.onTx = (bytes) => {
      this.pending.push(bytes);
      this.waiter?.();
    };
    this.timer = setInterval(() => fw.pump(), 1);
  }

  async transferOut(endpointNumber: number, data: Uint8Array) {
    if (endpointNumber !== 1) return { status: "stall" as const, bytesWritten: 0 };
    this.fw.feed(data);
    this.fw.pump();
    return { status: "ok" as const, bytesWritten: data.length };
  }

  async transferIn(endpointNumber: number, length: number) {
    if (endpointNumber !== 1) return { status: "stall" as const };
    while (this.pending.length === 0 && !this.closed) await new Promise<void>((r) => (this.waiter = r));
    this.waiter = null;
    const all = Buffer.concat(this.pending);
    // A bulk IN transfer ends at `length` bytes (a multiple of the packet size).
    const n = Math.min(all.length, length - (length % this.maxPacket) || length);
    this.pending = n < all.length ? [all.subarray(n)] : [];
    return { status: "ok" as const, data: new DataView(all.buffer, all.byteOffset, n) };
  }

  async controlTransferOut() {
    return { status: "stall" as const, bytesWritten: 0 };
  }

  async controlTransferIn() {
    return { status: "stall" as const };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.waiter?.();
  }
}
