// Ties the device codec (device/firmware/, AssemblyScript) to the host codec (protocol/,
// @msgpack/msgpack): CRC-32C, COBS and MessagePack byte for byte, then the firmware's
// dispatcher end to end through the session layer, with and without a faulty link.
import { beforeAll, describe, expect, it } from "vitest";
import { decode, encode } from "@msgpack/msgpack";
import { buildFirmware, wasmImports } from "../device/firmware/build.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { cobsDecode, cobsEncode } from "../protocol/cobs.ts";
import { decodeFrame, encodeFrame, FLAG_EVENT, FLAG_RESPONSE, FrameSplitter } from "../protocol/frame.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  DeviceError, ErrorCode, MsgType, decodeBody, encodeBody, f32le, fromF32le, validateDeviceBody, ParamId,
} from "../protocol/messages.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { FaultyTransport } from "../host/transport/fault.ts";
import { Session } from "../host/session/session.ts";
import type { Transport } from "../host/transport/transport.ts";

interface TestExports {
  memory: WebAssembly.Memory;
  IN: WebAssembly.Global;
  OUT: WebAssembly.Global;
  t_crc(p: number, n: number): number;
  t_cobs_encode(src: number, n: number, dst: number): number;
  t_cobs_decode(src: number, n: number, dst: number, cap: number): number;
  t_transcode(src: number, n: number, dst: number, cap: number): number;
}

let testWasm: Uint8Array;
let fwWasm: Uint8Array;
let T: TestExports;
let IN = 0;
let OUT = 0;

beforeAll(async () => {
  [testWasm, fwWasm] = await Promise.all([
    buildFirmware("device/firmware/test-entry.ts", "firmware-test").then((r) => r.bytes),
    buildFirmware().then((r) => r.bytes),
  ]);
  const fw = await FirmwareHost.create(testWasm);
  T = fw.exports as unknown as TestExports;
  IN = T.IN.value as number;
  OUT = T.OUT.value as number;
});

const mem = () => new Uint8Array(T.memory.buffer);
function put(b: Uint8Array): void {
  mem().set(b, IN);
}

/**
 * Two areas of n bytes each in linear memory grown for the purpose (the harness's IN/OUT hold
 * 32 KiB, too small for a value with a 32-bit length). The codec allocates nothing, so pages the
 * host adds past the heap stay the test's.
 */
function scratch(n: number): [number, number] {
  const need = Math.ceil((2 * n + 16) / 65536);
  const first = T.memory.grow(need);
  return [first * 65536, first * 65536 + n + 16];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("firmware .wasm", () => {
  it("imports only the HAL", () => {
    const allowed = ["hal.uart_write", "hal.uart_read", "hal.millis", "hal.storage_size", "hal.storage_read", "hal.storage_write", "env.abort"];
    for (const i of wasmImports(fwWasm)) expect(allowed).toContain(i);
    const mod = new WebAssembly.Module(fwWasm as Uint8Array<ArrayBuffer>);
    const exp = WebAssembly.Module.exports(mod).map((e) => e.name);
    expect(exp).toEqual(expect.arrayContaining(["init", "poll", "memory"]));
  });
});

describe("device codec = host codec", () => {
  it("CRC-32C", () => {
    const r = rng(1);
    for (const n of [0, 1, 9, 100, 4097]) {
      const d = new Uint8Array(n).map(() => Math.floor(r() * 256));
      put(d);
      expect(T.t_crc(IN, n) >>> 0).toBe(crc32c(d));
    }
  });

  it("COBS both ways", () => {
    const r = rng(2);
    for (const n of [0, 1, 2, 253, 254, 255, 508, 1000, 3000]) {
      for (const pZero of [0, 0.05, 0.5, 1]) {
        const d = new Uint8Array(n).map(() => (r() < pZero ? 0 : 1 + Math.floor(r() * 255)));
        put(d);
        const m = T.t_cobs_encode(IN, n, OUT);
        const devEnc = mem().slice(OUT, OUT + m);
        expect(devEnc).toEqual(cobsEncode(d));
        put(devEnc);
        const k = T.t_cobs_decode(IN, m, OUT, 32768);
        expect(k).toBe(n);
        expect(mem().slice(OUT, OUT + k)).toEqual(d);
      }
    }
    put(Uint8Array.of(5, 1, 2));
    expect(T.t_cobs_decode(IN, 3, OUT, 100)).toBe(-1);
    const big = cobsEncode(new Uint8Array(300).fill(1));
    put(big);
    expect(T.t_cobs_decode(IN, big.length, OUT, 100)).toBe(-2);
  });

  it("MessagePack: host encodes -> device decodes and re-encodes -> identical bytes -> host decodes", () => {
    const r = rng(3);
    const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1];
    const values: unknown[] = [
      null, true, false, ...ints, 0.5, -1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN,
      "", "a", "x".repeat(31), "x".repeat(32), "y".repeat(255), "y".repeat(256), "z".repeat(70000), "héllo ✓",
      new Uint8Array(0), new Uint8Array(255).fill(9), new Uint8Array(256), new Uint8Array(70000),
      [], [1, [2, [3, [4]]]], new Array(15).fill(1), new Array(16).fill(2), new Array(70000).fill(0),
      {}, { a: 1, b: { c: [1, "d", null] } }, Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
      Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i & 1 ? null : i])),
      {
        n: 100, x: new Uint8Array(1000).map(() => Math.floor(r() * 256)), tg: f32le([0.1, -0.2, 3e-9]),
        lr: 1e-3, neuron: "alif", rateReg: { cReg: 0.5, fTargetHz: 10 }, trainBias: false, beta: null,
      },
    ];
    for (let k = 0; k < 300; k++) {
      const pick = (): unknown => {
        const t = Math.floor(r() * 7);
        if (t === 0) return Math.floor((r() - 0.5) * 2 ** (Math.floor(r() * 53)));
        if (t === 1) return (r() - 0.5) * 10 ** Math.floor(r() * 20 - 10);
        if (t === 2) return "s".repeat(Math.floor(r() * 40));
        if (t === 3) return new Uint8Array(Math.floor(r() * 300)).map(() => Math.floor(r() * 256));
        if (t === 4) return Array.from({ length: Math.floor(r() * 20) }, () => Math.floor(r() * 1000));
        if (t === 5) return r() < 0.5;
        return null;
      };
      values.push(Object.fromEntries(Array.from({ length: Math.floor(r() * 20) }, (_, i) => [`f${i}`, pick()])));
    }
    let big = 0;
    const bigT = (v: unknown) => {
      const e = encode(v);
      // values past the 32 KiB scratch areas (str32, bin32, array32, map32) go to grown memory
      const [src, dst] = e.length > 32768 ? scratch(e.length) : [IN, OUT];
      if (e.length > 32768) big++;
      mem().set(e, src);
      const m = T.t_transcode(src, e.length, dst, e.length);
      const label = e.length > 32768 ? `a value of ${e.length} bytes starting 0x${e[0]!.toString(16)}` : JSON.stringify(v)?.slice(0, 80);
      expect(m, label).toBe(e.length);
      const dev = mem().slice(dst, dst + m);
      expect(Buffer.compare(dev, e), label).toBe(0);
      const back = decode(dev);
      if (typeof v === "number" && Number.isNaN(v)) expect(back).toBeNaN();
      else if (e.length > 32768) expect(Buffer.compare(encode(back), e)).toBe(0); // deep toEqual of 70000 elements is slow
      else expect(back).toEqual(v);
    };
    for (const v of values) bigT(v);
    expect(big).toBe(4); // str32, bin32, array32 and the map32 below all took the grown-memory path
    // float32 (forceFloat32) and 64-bit ints beyond 2^53 (BigInt) are canonical too
    for (const v of [1.5, -3.25e-7, 1e38]) {
      const e = encode(v, { forceFloat32: true });
      put(e);
      const m = T.t_transcode(IN, e.length, OUT, 32768);
      expect(mem().slice(OUT, OUT + m)).toEqual(e);
    }
    for (const v of [2n ** 64n - 1n, 2n ** 63n, -(2n ** 63n)]) {
      const e = encode(v, { useBigInt64: true });
      put(e);
      const m = T.t_transcode(IN, e.length, OUT, 32768);
      expect(mem().slice(OUT, OUT + m)).toEqual(e);
    }
  });

  it("MessagePack: 16- and 32-bit length headers decode (non-minimal encodings re-encode minimally)", () => {
    const str = [0x68, 0x65, 0x6c, 0x6c, 0x6f]; // "hello"
    const cases: [string, number[], unknown][] = [
      ["str16", [0xda, 0, 5, ...str], "hello"],
      ["str32", [0xdb, 0, 0, 0, 5, ...str], "hello"],
      ["bin16", [0xc5, 0, 3, 1, 2, 3], Uint8Array.of(1, 2, 3)],
      ["bin32", [0xc6, 0, 0, 0, 3, 1, 2, 3], Uint8Array.of(1, 2, 3)],
      ["array16", [0xdc, 0, 3, 1, 2, 3], [1, 2, 3]],
      ["array32", [0xdd, 0, 0, 0, 3, 1, 2, 3], [1, 2, 3]],
      ["map16", [0xde, 0, 1, 0xa1, 0x61, 1], { a: 1 }],
      ["map32", [0xdf, 0, 0, 0, 2, 0xa1, 0x61, 1, 0xa1, 0x62, 0xdb, 0, 0, 0, 0], { a: 1, b: "" }],
    ];
    for (const [name, bytes, value] of cases) {
      put(Uint8Array.from(bytes));
      const m = T.t_transcode(IN, bytes.length, OUT, 32768);
      expect(m, name).toBeGreaterThan(0);
      const out = mem().slice(OUT, OUT + m);
      expect(out, name).toEqual(encode(value));
      expect(decode(out), name).toEqual(value);
    }
    // a 32-bit length is big-endian and all four bytes count: 0x00010001 bytes announced, 5 present
    for (const head of [0xdb, 0xc6]) {
      put(Uint8Array.of(head, 0, 1, 0, 1, ...str));
      expect(T.t_transcode(IN, 10, OUT, 32768), `0x${head.toString(16)} with a short body`).toBe(-1);
    }
    // the same, with the whole 65537-byte body present (str32 / bin32 of more than 64 KiB)
    for (const [head, kind] of [[0xdb, "str"], [0xc6, "bin"]] as const) {
      const n = 0x10001;
      const body = new Uint8Array(n).fill(0x61);
      const e = new Uint8Array(5 + n);
      e.set([head, 0, 1, 0, 1]);
      e.set(body, 5);
      const [src, dst] = scratch(e.length);
      mem().set(e, src);
      expect(T.t_transcode(src, e.length, dst, e.length), kind).toBe(e.length);
      expect(Buffer.compare(mem().subarray(dst, dst + e.length), e), kind).toBe(0);
    }
  });

  it("MessagePack: rejects ext, reserved and truncated input", () => {
    for (const bad of [
      [0xc1], [0xd4, 1, 2], [0xc7, 1, 1, 0], [0xcd, 1], [0xa5, 1, 2], [0xc4, 10, 1], [0xdd, 0xff, 0xff, 0xff, 0xff], [0x92, 1],
      [0xdb, 0, 0, 0], [0xc6, 0, 0], [0xdd, 0, 0, 0, 2, 1], [0xdf, 0, 0],
    ]) {
      put(Uint8Array.from(bad));
      expect(T.t_transcode(IN, bad.length, OUT, 32768), JSON.stringify(bad)).toBe(-1);
    }
  });
});

// ---- the dispatcher, frame by frame ----

class RawBoard {
  readonly frames: Frame[] = [];
  bad = 0;
  private splitter = new FrameSplitter((b) => {
    const f = decodeFrame(b);
    if (typeof f === "string") this.bad++;
    else this.frames.push(f);
  });
  constructor(readonly fw: FirmwareHost) {
    fw.onTx = (b) => this.splitter.push(b);
  }
  static async start(wasm: Uint8Array): Promise<RawBoard> {
    const fw = await FirmwareHost.create(wasm, { boardId: "sim" });
    const b = new RawBoard(fw);
    fw.init();
    return b;
  }
  send(wire: Uint8Array): Frame[] {
    this.frames.length = 0;
    this.fw.feed(wire);
    this.fw.pump();
    return this.frames.slice();
  }
  req(type: number, body: Record<string, unknown>, seq = 1): { f: Frame; body: Record<string, unknown> } {
    const out = this.send(encodeFrame({ type, flags: 0, seq, body: encodeBody(body) }));
    expect(out.length).toBe(1);
    const f = out[0]!;
    const b = decodeBody(f.body);
    expect(validateDeviceBody(f.type, b)).toBeNull();
    return { f, body: b };
  }
}

describe("firmware dispatcher", () => {
  it("greets with a LOG event at init, answers HELLO and PING", async () => {
    const fw = await FirmwareHost.create(fwWasm, { boardId: "sim" });
    const frames: Frame[] = [];
    const sp = new FrameSplitter((b) => frames.push(decodeFrame(b) as Frame));
    fw.onTx = (b) => sp.push(b);
    fw.init();
    expect(frames[0]!.flags).toBe(FLAG_EVENT);
    expect(frames[0]!.type).toBe(MsgType.LOG);
    const b = new RawBoard(fw);
    const h = b.req(MsgType.HELLO, { mf: 1024 }, 77);
    expect(h.f).toMatchObject({ type: MsgType.HELLO, flags: FLAG_RESPONSE, seq: 77 });
    expect(h.body).toMatchObject({ pv: 1, fw: "0.1.0", board: "sim", mf: 2048 });
    expect(h.body.ram as number).toBeGreaterThan(1000);
    const p = b.req(MsgType.PING, { d: Uint8Array.of(0, 1, 0, 255) }, 78);
    expect(p.body.d).toEqual(Uint8Array.of(0, 1, 0, 255));
    expect(typeof p.body.t).toBe("number");
  });

  it("answers a retransmission with its cached response (same seq and CRC), a new seq with a new one", async () => {
    const b = await RawBoard.start(fwWasm);
    b.req(MsgType.HELLO, { mf: 2048 });
    b.req(MsgType.CONFIGURE, { nIn: 4, nRec: 3, nOut: 2 }, 10);
    const w1 = encodeFrame({ type: MsgType.WRITE, flags: 0, seq: 11, body: encodeBody({ p: ParamId.bOut, o: 0, d: f32le([1, 2]) }) });
    const first = b.send(w1);
    expect(first.length).toBe(1);
    const again = b.send(Uint8Array.from([...w1, ...w1]));
    expect(again.length).toBe(2);
    for (const f of again) expect(f).toEqual(first[0]);
    // same seq, different content: a new request (not a retransmission)
    const w2 = encodeFrame({ type: MsgType.WRITE, flags: 0, seq: 11, body: encodeBody({ p: ParamId.bOut, o: 1, d: f32le([7]) }) });
    expect(decodeBody(b.send(w2)[0]!.body)).toEqual({ p: ParamId.bOut, n: 1 });
    const rd = b.req(MsgType.READ, { p: ParamId.bOut, o: 0, n: 2 }, 13);
    expect(Array.from(fromF32le(rd.body.d as Uint8Array))).toEqual([1, 7]);
  });

  const errorCases: [string, () => Uint8Array, number, RegExp][] = [
    ["wrong CRC", () => {
      const w = encodeFrame({ type: MsgType.PING, flags: 0, seq: 5, body: encodeBody({}) });
      const raw = cobsDecode(w.subarray(0, w.length - 1))!;
      raw[raw.length - 1]! ^= 0x40;
      const e = cobsEncode(raw);
      return Uint8Array.from([...e, 0]);
    }, ErrorCode.BAD_FRAME, /CRC/],
    ["oversized frame", () => encodeFrame({ type: MsgType.WRITE, flags: 0, seq: 5, body: encodeBody({ p: 0, d: new Uint8Array(5000) }) }), ErrorCode.TOO_LARGE, /exceeds the max frame of 2048/],
    ["unknown type", () => encodeFrame({ type: 0x42, flags: 0, seq: 5, body: encodeBody({}) }), ErrorCode.UNKNOWN_TYPE, /unknown message type 66/],
    ["bad version", () => encodeFrame({ version: 9, type: MsgType.PING, flags: 0, seq: 5, body: encodeBody({}) }), ErrorCode.BAD_VERSION, /version 9/],
    ["body not a map", () => encodeFrame({ type: MsgType.PING, flags: 0, seq: 5, body: encode([1, 2]) }), ErrorCode.MALFORMED, /map/],
    ["trailing bytes", () => encodeFrame({ type: MsgType.PING, flags: 0, seq: 5, body: Uint8Array.of(0x80, 0x01) }), ErrorCode.MALFORMED, /map/],
    ["unknown field", () => encodeFrame({ type: MsgType.PING, flags: 0, seq: 5, body: encodeBody({ zork: 1 }) }), ErrorCode.BAD_FIELD, /unknown field/],
    ["model before CONFIGURE", () => encodeFrame({ type: MsgType.READ, flags: 0, seq: 5, body: encodeBody({ p: 0 }) }), ErrorCode.NOT_CONFIGURED, /CONFIGURE/],
    ["model that does not fit", () => encodeFrame({ type: MsgType.CONFIGURE, flags: 0, seq: 5, body: encodeBody({ nIn: 60000, nRec: 60000, nOut: 10 }) }), ErrorCode.NO_MEMORY, /needs/],
  ];
  for (const [name, make, code, text] of errorCases) {
    it(`answers ${name} with ERROR ${code}`, async () => {
      const b = await RawBoard.start(fwWasm);
      const out = b.send(make());
      expect(out.length).toBe(1);
      const f = out[0]!;
      expect(f.type).toBe(MsgType.ERROR);
      expect(f.seq).toBe(5);
      const body = decodeBody(f.body);
      expect(validateDeviceBody(MsgType.ERROR, body)).toBeNull();
      expect(body.c).toBe(code);
      expect(body.m as string).toMatch(text);
    });
  }

  it("rejects wrong shapes and NaN in parameters, with the field named", async () => {
    const b = await RawBoard.start(fwWasm);
    b.req(MsgType.HELLO, { mf: 2048 });
    expect(b.req(MsgType.CONFIGURE, { nIn: 4, nRec: 3, nOut: 2, beta: f32le([0, 0]) }, 2).body).toMatchObject({ c: ErrorCode.BAD_SHAPE, f: "beta" });
    expect(b.req(MsgType.CONFIGURE, { nIn: 4, nRec: 3, nOut: 2, tauMem: NaN }, 3).body).toMatchObject({ c: ErrorCode.BAD_VALUE, f: "tauMem" });
    expect(b.req(MsgType.CONFIGURE, { nIn: 4, nRec: 3, nOut: 2, neuron: "hh" }, 4).body).toMatchObject({ c: ErrorCode.BAD_VALUE, f: "neuron" });
    expect(b.req(MsgType.CONFIGURE, { nIn: 4, nRec: 3, nOut: 2 }, 5).f.type).toBe(MsgType.CONFIGURE);
    expect(b.req(MsgType.WRITE, { p: 0, o: 10, d: f32le([1, 2, 3]) }, 6).body).toMatchObject({ c: ErrorCode.BAD_SHAPE, f: "d" });
    expect(b.req(MsgType.WRITE, { p: 0, d: f32le([1, NaN]) }, 7).body).toMatchObject({ c: ErrorCode.BAD_VALUE, f: "d", m: "element 1 is NaN or infinite" });
    expect(b.req(MsgType.WRITE, { p: 0, d: new Uint8Array(7) }, 8).body).toMatchObject({ c: ErrorCode.BAD_SHAPE });
    expect(b.req(MsgType.READ, { p: 9 }, 9).body).toMatchObject({ c: ErrorCode.BAD_VALUE, f: "p" });
  });
});

/**
 * A board slower than the host's timeout: a new request gets one poll (a long RUN stays busy);
 * each retransmission of it gets one more poll (which answers ACK), and the `finishAfter`-th
 * retransmission lets it run to the end.
 */
class SlowBoard implements Transport {
  readonly name = "slow in-process board";
  retransmissions = 0;
  private dataCb: (chunk: Uint8Array) => void = () => {};
  constructor(
    readonly fw: FirmwareHost,
    private readonly finishAfter: number,
  ) {
    fw.onTx = (bytes) => queueMicrotask(() => this.dataCb(bytes));
  }
  write(data: Uint8Array): void {
    const working = this.fw.busy;
    this.fw.feed(data);
    if (!working) {
      this.fw.poll();
      if (!this.fw.busy) this.fw.pump();
      return;
    }
    this.retransmissions++;
    this.fw.poll();
    if (this.retransmissions >= this.finishAfter) this.fw.pump();
  }
  onData(cb: (chunk: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onError(): void {}
  async close(): Promise<void> {}
}

describe("long requests over several polls (bounded work per poll)", () => {
  const model = { nIn: 200, nRec: 300, nOut: 2 };
  const steps = 20;
  const runBody = () => encodeBody({
    n: steps, x: new Uint8Array(steps * 25).map((_, i) => (i * 37) & 0x55), tg: f32le(new Array(steps * 2).fill(0.25)), rs: true, end: true, o: 1,
  });

  it("a long RUN keeps the board responsive: a retransmission gets ACK, another request BUSY, then exactly one answer", async () => {
    const b = await RawBoard.start(fwWasm);
    b.req(MsgType.HELLO, { mf: 2048 });
    b.req(MsgType.CONFIGURE, model, 2);
    const run = encodeFrame({ type: MsgType.RUN, flags: 0, seq: 3, body: runBody() });
    b.frames.length = 0;
    b.fw.feed(run);
    b.fw.poll();
    expect(b.frames.length).toBe(0);
    expect(b.fw.busy).toBe(true);
    b.fw.feed(run); // the host's retransmission
    b.fw.poll();
    expect(b.frames.map((f) => [f.type, f.seq, f.flags])).toEqual([[MsgType.ACK, 3, FLAG_RESPONSE]]);
    b.frames.length = 0;
    b.fw.feed(encodeFrame({ type: MsgType.PING, flags: 0, seq: 4, body: encodeBody({}) }));
    b.fw.poll();
    expect(b.frames.length).toBe(1);
    expect(decodeBody(b.frames[0]!.body)).toMatchObject({ c: ErrorCode.BUSY });
    b.frames.length = 0;
    let polls = 0;
    while (b.fw.busy) {
      b.fw.poll();
      polls++;
    }
    expect(polls).toBeGreaterThan(3);
    expect(b.frames.length).toBe(1);
    const done = b.frames[0]!;
    expect([done.type, done.seq]).toEqual([MsgType.RUN, 3]);
    const body = decodeBody(done.body);
    expect(body).toMatchObject({ n: steps, t: steps });
    // the same RUN done in one go (pump) on a fresh board gives the same bytes
    const c = await RawBoard.start(fwWasm);
    c.req(MsgType.HELLO, { mf: 2048 });
    c.req(MsgType.CONFIGURE, model, 2);
    const once = c.send(run);
    expect(once.length).toBe(1);
    expect(once[0]!.body).toEqual(done.body);
    // and a retransmission after completion gets the cached answer
    b.frames.length = 0;
    b.fw.feed(run);
    b.fw.pump();
    expect(b.frames.length).toBe(1);
    expect(b.frames[0]!.body).toEqual(done.body);
  });

  it("the session waits through ACKs for a slow board, past its retry limit", async () => {
    // The board makes progress on the RUN only when the host retransmits it (each time: an ACK
    // and one poll's work), and finishes after the 4th retransmission. The host's short timeout
    // only sets the pace: whatever the machine's load, the events come in this order.
    const fw = await FirmwareHost.create(fwWasm, { boardId: "slow" });
    fw.init();
    const board = new SlowBoard(fw, 4);
    const s = new Session(board, { timeoutMs: 5, retries: 2 });
    await s.connect();
    await s.request(MsgType.CONFIGURE, model);
    const r = await s.request(MsgType.RUN, decodeBody(runBody()));
    expect(r).toMatchObject({ n: steps, t: steps });
    expect(board.retransmissions).toBe(4);
    expect(s.stats.acks).toBe(4);
    expect(s.stats.retransmits).toBe(4); // more than `retries`: every ACK renews the budget
    await s.close();
  });
});

describe("session over the firmware", () => {
  async function session(faultRate = 0, seed = 1) {
    const fw = await FirmwareHost.create(fwWasm, { boardId: "sim" });
    fw.init();
    const inner = new InProcessTransport(fw);
    const t = faultRate > 0 ? new FaultyTransport(inner, { rate: faultRate, seed }) : inner;
    const s = new Session(t, { timeoutMs: 30, retries: 30, maxFrame: 512 });
    return { s, t };
  }

  it("negotiates the frame size and prints device errors in words", async () => {
    const { s } = await session();
    const info = await s.connect();
    expect(info.board).toBe("sim");
    expect(s.maxFrame).toBe(512);
    await expect(s.request(MsgType.CONFIGURE, { nIn: 60000, nRec: 60000, nOut: 2 })).rejects.toThrow(
      /device error NO_MEMORY in reply to CONFIGURE: the model does not fit in the device's RAM — model needs/,
    );
    await expect(s.request(MsgType.WRITE, { p: 0, d: new Uint8Array(4000) })).rejects.toThrow(/exceeds the max frame of 512/);
    await s.close();
  });

  async function roundTrip(faultRate: number, seed: number) {
    const { s, t } = await session(faultRate, seed);
    await s.connect();
    const nIn = 30, nRec = 40, nOut = 3;
    await s.request(MsgType.CONFIGURE, { nIn, nRec, nOut, neuron: "lif" });
    const r = rng(seed);
    const w = new Float32Array(nRec * nIn).map(() => r() - 0.5);
    const chunk = Math.floor((s.maxBody - 32) / 4);
    for (let o = 0; o < w.length; o += chunk) {
      const d = w.subarray(o, o + chunk);
      const res = await s.request(MsgType.WRITE, { p: ParamId.wIn, o, d: f32le(d) });
      expect(res.n).toBe(d.length);
    }
    const back = new Float32Array(w.length);
    for (let o = 0; o < w.length; o += chunk) {
      const res = await s.request(MsgType.READ, { p: ParamId.wIn, o, n: Math.min(chunk, w.length - o) });
      back.set(fromF32le(res.d as Uint8Array), o);
    }
    expect(back).toEqual(w);
    for (let i = 0; i < 50; i++) await s.request(MsgType.PING, { d: Uint8Array.of(i, 0, i) });
    await s.close();
    return { stats: s.stats, t };
  }

  it("moves parameters exactly over a clean link", async () => {
    const { stats } = await roundTrip(0, 5);
    expect(stats.retransmits).toBe(0);
  });

  it("moves parameters exactly over a link with 1e-3 and 3e-3 byte faults", async () => {
    for (const rate of [1e-3, 3e-3]) {
      const { stats, t } = await roundTrip(rate, 11);
      const f = (t as FaultyTransport).toDevice.stats;
      const g = (t as FaultyTransport).toHost.stats;
      expect(f.dropped + f.flipped + f.duplicated + g.dropped + g.flipped + g.duplicated).toBeGreaterThan(0);
      expect(stats.retransmits).toBeGreaterThan(0);
    }
  });

  it("device errors are DeviceError instances", async () => {
    const { s } = await session();
    await s.connect();
    const e = await s.request(MsgType.READ, { p: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe(ErrorCode.NOT_CONFIGURED);
    await s.close();
  });
});
