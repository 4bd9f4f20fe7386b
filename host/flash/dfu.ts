// USB DFU 1.1 download with ST's DfuSe extensions (the STM32 system bootloader): erase the
// sectors the image covers, set the address pointer, download in wTransferSize blocks, read
// back to verify, then leave DFU mode. Every step waits on DFU_GETSTATUS as the state machine
// of DFU 1.1 (section 6) requires; a device in dfuERROR is reported with its status name.
import type { FlashEvent } from "../firmware/flash.ts";
import type { ControlSetup, UsbLink } from "../usb/link.ts";

export const DfuRequest = { DETACH: 0, DNLOAD: 1, UPLOAD: 2, GETSTATUS: 3, CLRSTATUS: 4, GETSTATE: 5, ABORT: 6 } as const;

export const DfuState = {
  appIDLE: 0, appDETACH: 1, dfuIDLE: 2, dfuDNLOAD_SYNC: 3, dfuDNBUSY: 4, dfuDNLOAD_IDLE: 5,
  dfuMANIFEST_SYNC: 6, dfuMANIFEST: 7, dfuMANIFEST_WAIT_RESET: 8, dfuUPLOAD_IDLE: 9, dfuERROR: 10,
} as const;

export const DFU_STATUS_NAMES = [
  "OK", "errTARGET", "errFILE", "errWRITE", "errERASE", "errCHECK_ERASED", "errPROG", "errVERIFY",
  "errADDRESS", "errNOTDONE", "errFIRMWARE", "errVENDOR", "errUSBR", "errPOR", "errUNKNOWN", "errSTALLEDPKT",
];

/** DfuSe commands, sent as DNLOAD block 0. */
export const DfuseCommand = { SET_ADDRESS: 0x21, ERASE: 0x41 } as const;

export interface DfuStatus {
  status: number;
  pollTimeoutMs: number;
  state: number;
}

export class DfuError extends Error {}

/** A flash region as DfuSe describes it, e.g. "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg". */
export interface Sector {
  start: number;
  size: number;
}

export function parseDfuseLayout(layout: string): Sector[] {
  const m = /\/0x([0-9a-fA-F]+)\/(.+)$/.exec(layout.trim());
  if (!m) throw new DfuError(`DfuSe memory layout '${layout}': expected '@name/0xADDRESS/N*SIZEu,...'`);
  let at = parseInt(m[1]!, 16);
  const sectors: Sector[] = [];
  for (const part of m[2]!.split(",")) {
    const s = /^(\d+)\*(\d+)([ KM ])(\w)$/.exec(part.trim());
    if (!s) throw new DfuError(`DfuSe memory layout segment '${part}': expected N*SIZE[K|M]t`);
    const unit = s[3] === "K" ? 1024 : s[3] === "M" ? 1024 * 1024 : 1;
    for (let i = 0; i < Number(s[1]); i++) {
      sectors.push({ start: at, size: Number(s[2]) * unit });
      at += Number(s[2]) * unit;
    }
  }
  return sectors;
}

export interface DfuseDownloadOptions {
  address: number;
  layout: string;
  /** wTransferSize of the DFU functional descriptor (2048 on STM32 bootloaders). */
  transferSize: number;
  interfaceNumber?: number;
  onEvent?: (e: FlashEvent) => void;
  /** Upper bound on the time spent waiting for one DFU operation. */
  opTimeoutMs?: number;
}

export class DfuDevice {
  constructor(
    private readonly link: UsbLink,
    private readonly iface = 0,
  ) {}

  private setup(request: number, value = 0): ControlSetup {
    return { requestType: "class", recipient: "interface", request, value, index: this.iface };
  }

  async out(request: number, value: number, data?: Uint8Array): Promise<void> {
    const r = await this.link.controlTransferOut(this.setup(request, value), data);
    if (r.status !== "ok") {
      // A stall leaves the device in dfuERROR: read why, clear it, and say it in words.
      const st = await this.getStatus().catch(() => undefined);
      if (st?.state === DfuState.dfuERROR) await this.link.controlTransferOut(this.setup(DfuRequest.CLRSTATUS), undefined);
      throw new DfuError(`DFU request ${request} stalled${st ? ` (${DFU_STATUS_NAMES[st.status] ?? st.status})` : ""}`);
    }
  }

  async in(request: number, value: number, length: number): Promise<Uint8Array> {
    const r = await this.link.controlTransferIn(this.setup(request, value), length);
    if (r.status !== "ok" || !r.data) throw new DfuError(`DFU request ${request} stalled`);
    return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  }

  async getStatus(): Promise<DfuStatus> {
    const b = await this.in(DfuRequest.GETSTATUS, 0, 6);
    if (b.length !== 6) throw new DfuError(`DFU_GETSTATUS returned ${b.length} bytes, expected 6`);
    return { status: b[0]!, pollTimeoutMs: b[1]! | (b[2]! << 8) | (b[3]! << 16), state: b[4]! };
  }

  /** Polls GETSTATUS until the device leaves the busy states; fails on dfuERROR. */
  async settle(expect: number, timeoutMs: number): Promise<DfuStatus> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const st = await this.getStatus();
      if (st.state === DfuState.dfuERROR) {
        await this.out(DfuRequest.CLRSTATUS, 0);
        throw new DfuError(`device reported ${DFU_STATUS_NAMES[st.status] ?? `status ${st.status}`}`);
      }
      if (st.state === expect) return st;
      if (st.state !== DfuState.dfuDNBUSY && st.state !== DfuState.dfuDNLOAD_SYNC && st.state !== DfuState.dfuMANIFEST_SYNC) {
        throw new DfuError(`device in DFU state ${st.state}, expected ${expect}`);
      }
      if (performance.now() > deadline) throw new DfuError(`device still busy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, st.pollTimeoutMs));
    }
  }

  /** Brings the device to dfuIDLE from wherever a previous session left it. */
  async toIdle(): Promise<void> {
    const st = await this.getStatus();
    if (st.state === DfuState.dfuERROR) await this.out(DfuRequest.CLRSTATUS, 0);
    else if (st.state !== DfuState.dfuIDLE) await this.out(DfuRequest.ABORT, 0);
    const now = await this.getStatus();
    if (now.state !== DfuState.dfuIDLE) throw new DfuError(`device will not return to dfuIDLE (state ${now.state})`);
  }

  async command(cmd: number, address: number, timeoutMs: number): Promise<void> {
    const b = new Uint8Array(5);
    b[0] = cmd;
    new DataView(b.buffer).setUint32(1, address, true);
    await this.out(DfuRequest.DNLOAD, 0, b);
    await this.settle(DfuState.dfuDNLOAD_IDLE, timeoutMs);
  }
}

/** Erase, program, verify and leave: the whole DfuSe download of `image` at `opts.address`. */
export async function dfuseDownload(link: UsbLink, image: Uint8Array, opts: DfuseDownloadOptions): Promise<void> {
  const dev = new DfuDevice(link, opts.interfaceNumber ?? 0);
  const timeout = opts.opTimeoutMs ?? 10_000;
  const emit = opts.onEvent ?? (() => {});
  const sectors = parseDfuseLayout(opts.layout);
  const end = opts.address + image.length;
  const last = sectors[sectors.length - 1]!;
  if (opts.address < sectors[0]!.start || end > last.start + last.size) {
    throw new DfuError(`image [0x${opts.address.toString(16)}, 0x${end.toString(16)}) lies outside the flash (0x${sectors[0]!.start.toString(16)} + ${last.start + last.size - sectors[0]!.start} bytes)`);
  }
  await dev.toIdle();

  const touched = sectors.filter((s) => s.start < end && s.start + s.size > opts.address);
  for (let i = 0; i < touched.length; i++) {
    emit({ type: "erasing", done: i, total: touched.length });
    await dev.command(DfuseCommand.ERASE, touched[i]!.start, timeout);
  }
  emit({ type: "erasing", done: touched.length, total: touched.length });

  await dev.command(DfuseCommand.SET_ADDRESS, opts.address, timeout);
  const blocks = Math.ceil(image.length / opts.transferSize);
  for (let b = 0; b < blocks; b++) {
    emit({ type: "programming", done: b * opts.transferSize, total: image.length });
    await dev.out(DfuRequest.DNLOAD, b + 2, image.subarray(b * opts.transferSize, (b + 1) * opts.transferSize));
    await dev.settle(DfuState.dfuDNLOAD_IDLE, timeout);
  }
  emit({ type: "programming", done: image.length, total: image.length });

  // Verify: DfuSe uploads block n >= 2 from pointer + (n - 2) * transferSize, from dfuIDLE.
  emit({ type: "verifying" });
  await dev.command(DfuseCommand.SET_ADDRESS, opts.address, timeout);
  await dev.out(DfuRequest.ABORT, 0);
  for (let b = 0; b < blocks; b++) {
    const want = image.subarray(b * opts.transferSize, (b + 1) * opts.transferSize);
    const got = await dev.in(DfuRequest.UPLOAD, b + 2, want.length);
    const bad = want.findIndex((v, i) => got[i] !== v);
    if (got.length !== want.length || bad >= 0) {
      throw new DfuError(`verify failed at 0x${(opts.address + b * opts.transferSize + Math.max(bad, 0)).toString(16)}`);
    }
  }
  await dev.out(DfuRequest.ABORT, 0);

  // Leave DFU: pointer to the image, then a zero-length DNLOAD starts manifestation.
  await dev.command(DfuseCommand.SET_ADDRESS, opts.address, timeout);
  await dev.out(DfuRequest.DNLOAD, 0, new Uint8Array(0));
  const st = await dev.getStatus();
  if (st.state !== DfuState.dfuMANIFEST && st.state !== DfuState.dfuMANIFEST_SYNC && st.state !== DfuState.dfuMANIFEST_WAIT_RESET) {
    throw new DfuError(`device did not start manifestation (state ${st.state})`);
  }
}
