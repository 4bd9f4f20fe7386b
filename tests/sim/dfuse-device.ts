// SIMULATION of an STM32 system bootloader in DFU mode (DFU 1.1 + DfuSe), for tests only: no
// physical USB device is attached here. It follows the DFU 1.1 state machine (section 6) and
// stalls, with dfuERROR, whatever a real bootloader would refuse.
import { DfuRequest, DfuState, parseDfuseLayout, type Sector } from "../../host/flash/dfu.ts";
import type { ControlSetup, UsbLink } from "../../host/usb/link.ts";

const Status = { OK: 0, errWRITE: 3, errCHECK_ERASED: 5, errPROG: 6, errADDRESS: 8, errSTALLEDPKT: 15 };

export class SimulatedDfuseDevice implements UsbLink {
  state: number = DfuState.dfuIDLE;
  status = Status.OK;
  readonly flash: Uint8Array;
  readonly sectors: Sector[];
  readonly base: number;
  pointer = 0;
  manifested = false;
  /** Every request the host made, for assertions on the sequence. */
  readonly log: string[] = [];
  private pending: (() => number) | null = null; // operation started by DNLOAD, run at GETSTATUS
  private busyPolls = 0;

  constructor(
    layout: string,
    readonly transferSize: number,
    /** Fault injection: GETSTATUS reports dfuDNBUSY this many times per operation. */
    readonly busyFor = 1,
  ) {
    this.sectors = parseDfuseLayout(layout);
    this.base = this.sectors[0]!.start;
    const last = this.sectors[this.sectors.length - 1]!;
    this.flash = new Uint8Array(last.start + last.size - this.base).fill(0x00); // not erased
  }

  private fail(status: number): { status: "stall"; bytesWritten: 0 } {
    this.status = status;
    this.state = DfuState.dfuERROR;
    return { status: "stall", bytesWritten: 0 };
  }

  private inFlash(addr: number, len: number): boolean {
    return addr >= this.base && addr + len <= this.base + this.flash.length;
  }

  async controlTransferOut(setup: ControlSetup, data = new Uint8Array(0)) {
    this.log.push(`out ${setup.request} ${setup.value} ${data.length}`);
    if (setup.requestType !== "class" || setup.recipient !== "interface") return this.fail(Status.errSTALLEDPKT);
    switch (setup.request) {
      case DfuRequest.CLRSTATUS:
        if (this.state !== DfuState.dfuERROR) return this.fail(Status.errSTALLEDPKT);
        this.status = Status.OK;
        this.state = DfuState.dfuIDLE;
        return { status: "ok" as const, bytesWritten: 0 };
      case DfuRequest.ABORT:
        if (this.state === DfuState.dfuERROR || this.state === DfuState.dfuDNBUSY || this.state === DfuState.dfuDNLOAD_SYNC) return this.fail(Status.errSTALLEDPKT);
        this.state = DfuState.dfuIDLE;
        return { status: "ok" as const, bytesWritten: 0 };
      case DfuRequest.DNLOAD:
        return this.download(setup.value, data);
      default:
        return this.fail(Status.errSTALLEDPKT);
    }
  }

  private download(block: number, data: Uint8Array) {
    if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuDNLOAD_IDLE) return this.fail(Status.errSTALLEDPKT);
    if (data.length > this.transferSize) return this.fail(Status.errSTALLEDPKT);
    if (data.length === 0) {
      if (this.state !== DfuState.dfuDNLOAD_IDLE) return this.fail(Status.errSTALLEDPKT);
      this.state = DfuState.dfuMANIFEST_SYNC;
      this.pending = () => {
        this.manifested = true;
        return DfuState.dfuMANIFEST;
      };
      return { status: "ok" as const, bytesWritten: 0 };
    }
    if (block === 0) {
      const addr = data.length === 5 ? new DataView(data.buffer, data.byteOffset).getUint32(1, true) : -1;
      if (data[0] === 0x21 && data.length === 5) {
        if (!this.inFlash(addr, 0)) return this.fail(Status.errADDRESS);
        this.pending = () => ((this.pointer = addr), DfuState.dfuDNLOAD_IDLE);
      } else if (data[0] === 0x41 && data.length === 5) {
        const sector = this.sectors.find((s) => addr >= s.start && addr < s.start + s.size);
        if (!sector) return this.fail(Status.errADDRESS);
        this.pending = () => (this.flash.fill(0xff, sector.start - this.base, sector.start - this.base + sector.size), DfuState.dfuDNLOAD_IDLE);
      } else return this.fail(Status.errSTALLEDPKT);
    } else if (block >= 2) {
      const addr = this.pointer + (block - 2) * this.transferSize;
      if (!this.inFlash(addr, data.length)) return this.fail(Status.errADDRESS);
      const at = addr - this.base;
      if (this.flash.subarray(at, at + data.length).some((b) => b !== 0xff)) return this.fail(Status.errCHECK_ERASED);
      const copy = data.slice();
      this.pending = () => (this.flash.set(copy, at), DfuState.dfuDNLOAD_IDLE);
    } else return this.fail(Status.errSTALLEDPKT);
    this.state = DfuState.dfuDNLOAD_SYNC;
    this.busyPolls = this.busyFor;
    return { status: "ok" as const, bytesWritten: data.length };
  }

  async controlTransferIn(setup: ControlSetup, length: number) {
    this.log.push(`in ${setup.request} ${setup.value} ${length}`);
    if (setup.request === DfuRequest.GETSTATUS) {
      if (this.pending) {
        if (this.busyPolls > 0) {
          this.busyPolls--;
          this.state = this.state === DfuState.dfuMANIFEST_SYNC ? DfuState.dfuMANIFEST_SYNC : DfuState.dfuDNBUSY;
        } else {
          this.state = this.pending();
          this.pending = null;
        }
      }
      const b = new Uint8Array([this.status, 1, 0, 0, this.state, 0]);
      return { status: "ok" as const, data: new DataView(b.buffer) };
    }
    if (setup.request === DfuRequest.GETSTATE) return { status: "ok" as const, data: new DataView(new Uint8Array([this.state]).buffer) };
    if (setup.request === DfuRequest.UPLOAD) {
      if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuUPLOAD_IDLE) {
        this.fail(Status.errSTALLEDPKT);
        return { status: "stall" as const };
      }
      const addr = this.pointer + (setup.value - 2) * this.transferSize;
      if (setup.value < 2 || !this.inFlash(addr, length)) {
        this.fail(Status.errADDRESS);
        return { status: "stall" as const };
      }
      this.state = DfuState.dfuUPLOAD_IDLE;
      const at = addr - this.base;
      return { status: "ok" as const, data: new DataView(this.flash.slice(at, at + length).buffer) };
    }
    this.fail(Status.errSTALLEDPKT);
    return { status: "stall" as const };
  }

  async transferOut(): Promise<never> {
    throw new Error("a DFU device has no bulk endpoints");
  }

  async transferIn(): Promise<never> {
    throw new Error("a DFU device has no bulk endpoints");
  }

  async close(): Promise<void> {}
}
