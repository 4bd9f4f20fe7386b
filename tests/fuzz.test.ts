// Throws >= 100 000 random and mutated frames at the firmware decoder/dispatcher: no trap, no
// hang (the firmware runs in a worker that is killed if a batch takes too long), and every
// answer is a well-formed frame (COBS, CRC, version, flags, known type, body schema); every
// valid request gets exactly one answer with its seq, anything else at most one ERROR per block.
// Every NATIVE_EVERY-th batch also goes to the wasm2c-native build of the firmware
// (tests/helpers/native-firmware.ts), which must answer byte for byte as Node's run of the .wasm
// does (a quarter of the inputs: the native run costs as much CPU as Node's). The seed differs
// every run (set EDGEPROP_FUZZ_SEED to replay one) and every failure names it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomInt } from "node:crypto";
import { Worker } from "node:worker_threads";
import { encode } from "@msgpack/msgpack";
import { buildFirmware } from "../device/firmware/build.ts";
import { cobsEncode, cobsDecode } from "../protocol/cobs.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { FLAG_EVENT, FLAG_RESPONSE, FrameSplitter, decodeFrame, frameBytes, parseFrame } from "../protocol/frame.ts";
import { MsgType, decodeBody, f32le, validateDeviceBody } from "../protocol/messages.ts";
import { buildNativeFirmware, runNativeFirmware } from "./helpers/native-firmware.ts";

const TOTAL = 100_000;
const BATCH = 2_000;
const BATCH_TIMEOUT_MS = 15_000;
const NATIVE_EVERY = 4;
const SEED = process.env.EDGEPROP_FUZZ_SEED !== undefined ? Number(process.env.EDGEPROP_FUZZ_SEED) : randomInt(2 ** 31);
const REPLAY = `fuzz seed ${SEED} (replay: EDGEPROP_FUZZ_SEED=${SEED} npx vitest run tests/fuzz.test.ts)`;

// The worker hosts the firmware with an in-memory HAL (the native harness has the same: storage
// of 0xFF, millis() counting its calls), a fresh instance per batch, feeds one input at a time,
// polls until the input is consumed (bounded), and returns what the firmware wrote for each input.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const mod = new WebAssembly.Module(workerData.wasm);
let storage, rx = null, rxOff = 0, tx = [], clock = 0;
let mem;
const imports = { hal: {
  uart_write(p, n) { tx.push(mem().slice(p >>> 0, (p >>> 0) + (n >>> 0))); },
  uart_read(p, cap) { if (!rx) return 0; const n = Math.min(cap >>> 0, rx.length - rxOff); mem().set(rx.subarray(rxOff, rxOff + n), p >>> 0); rxOff += n; return n; },
  millis() { return clock++ >>> 0; },
  storage_size() { return storage.length; },
  storage_read(o, p, n) { if (o >= storage.length) return 0; n = Math.min(n, storage.length - o); mem().set(storage.subarray(o, o + n), p); return n; },
  storage_write(o, p, n) { if (o >= storage.length) return 0; n = Math.min(n, storage.length - o); storage.set(mem().subarray(p, p + n), o); return n; },
}, env: { abort(m, f, l, c) { throw new Error("ABORT " + l + ":" + c); } } };
let polls = 0;
parentPort.on("message", (inputs) => {
  storage = new Uint8Array(65536).fill(0xff);
  clock = 0;
  const inst = new WebAssembly.Instance(mod, imports);
  mem = () => new Uint8Array(inst.exports.memory.buffer);
  inst.exports.init();
  const outs = [];
  for (let i = 0; i < inputs.length; i++) {
    rx = inputs[i]; rxOff = 0; tx = [];
    try {
      let k = 0;
      // poll until the input is consumed and the firmware is not busy (a long RUN spans polls)
      do { inst.exports.poll(); k++; } while ((rxOff < rx.length || inst.exports.busy()) && k < 100000);
      inst.exports.poll();
      polls += k + 1;
      if (rxOff < rx.length || inst.exports.busy()) { parentPort.postMessage({ error: "input not consumed / still busy after 100000 polls", index: i }); return; }
    } catch (e) {
      parentPort.postMessage({ error: "trap: " + (e && e.message), index: i }); return;
    }
    let n = 0; for (const t of tx) n += t.length;
    const o = new Uint8Array(n); n = 0; for (const t of tx) { o.set(t, n); n += t.length; }
    outs.push(o);
  }
  parentPort.postMessage({ outs, polls, pages: inst.exports.memory.buffer.byteLength >>> 16 });
});
`;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = [
  "mf", "d", "k", "p", "o", "n", "nIn", "nRec", "nOut", "neuron", "dt", "tauMem", "tauOut", "tauAdapt", "vTh",
  "gamma", "alpha", "beta", "rateReg", "cReg", "fTargetHz", "loss", "feedback", "trainBias", "refractory",
  "inputScale", "readoutScale", "lossReduction", "x", "tg", "lr", "opt", "zz", "", "optimizer", "rs", "end",
  "learn", "xf", "m", "ls", "op", "wMin", "wMax", "b1", "b2", "eps", "size",
];
const WORDS = ["lif", "alif", "mse", "ce", "one", "oneMinusAlpha", "oneMinusKappa", "sum", "mean", "symmetric", "random", "adaptive", "?"];

function generator(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]) => a[int(a.length)]!;
  const bytes = (n: number) => new Uint8Array(n).map(() => int(256));
  const value = (depth: number): unknown => {
    switch (int(depth > 2 ? 9 : 11)) {
      case 0: return null;
      case 1: return r() < 0.5;
      case 2: return int(8);
      case 3: return pick([0, 1, 2, 3, 4, 15, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -(2 ** 31)]);
      case 4: return pick([NaN, Infinity, -Infinity, -0, 1e-45, 3.5, -1e30, 0.3]);
      case 5: return pick(WORDS);
      case 6: return r() < 0.5 ? f32le(Array.from({ length: int(40) }, () => (r() < 0.05 ? NaN : r() - 0.5))) : bytes(int(r() < 0.1 ? 3000 : 64));
      case 7: return String.fromCharCode(...bytes(int(40)).map((b) => 32 + (b % 90)));
      case 8: return int(100000);
      case 9: return Array.from({ length: int(6) }, () => value(depth + 1));
      default: return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(KEYS), value(depth + 1)]));
    }
  };
  const body = (): Uint8Array => {
    if (r() < 0.05) return encode(value(0));
    const o: Record<string, unknown> = {};
    if (r() < 0.3) Object.assign(o, { nIn: 1 + int(20), nRec: 1 + int(30), nOut: 1 + int(5) });
    for (let i = int(5); i > 0; i--) o[pick(KEYS)] = value(0);
    return encode(o);
  };
  const TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x10, 0x11, 0x12];
  let seq = 0;
  let dims = { nIn: 8, nRec: 12, nOut: 3 };
  const header = () => ({ type: r() < 0.9 ? pick(TYPES) : int(256), flags: 0, seq: (seq = (seq + 1 + int(3)) & 0xffff) });
  const wire = (raw: Uint8Array) => Uint8Array.from([0, ...cobsEncode(raw), 0]);
  const fixCrc = (raw: Uint8Array) => {
    if (raw.length >= 4) new DataView(raw.buffer, raw.byteOffset).setUint32(raw.length - 4, crc32c(raw, 0, raw.length - 4), true);
    return raw;
  };
  const special = (): Uint8Array => {
    switch (int(8)) {
      case 0: return Uint8Array.from([...new Array(3000).fill(0x91), 0xc0]); // deep nesting
      case 1: return Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff); // map32 of 2^32-1 pairs
      case 2: return Uint8Array.of(0xde, 0x00, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xf0); // str32 past the end
      case 3: return Uint8Array.of(0x81, 0xa1, 0x64, 0xc6, 0x7f, 0xff, 0xff, 0xff); // bin32 past the end
      case 4: return Uint8Array.of(0x81, 0xa1, 0x64, 0xc7, 0x01, 0x01, 0x00); // ext
      case 5: return Uint8Array.of(0x80, 0x80); // two maps
      case 6: return new Uint8Array(0);
      default: return Uint8Array.of(0x83, 0xa3, 0x6e, 0x49, 0x6e, 0xcd, 0xff, 0xff, 0xa4, 0x6e, 0x52, 0x65, 0x63, 0xcd, 0xff, 0xff, 0xa4, 0x6e, 0x4f, 0x75, 0x74, 0x01); // huge model
    }
  };
  return (): Uint8Array => {
    const kind = int(100);
    if (kind < 16) { // well-formed requests (success paths)
      const m = int(12);
      const h = { flags: 0, seq: (seq = (seq + 1) & 0xffff) };
      if (m === 0) return wire(frameBytes({ ...h, type: MsgType.HELLO, body: encode({ mf: 256 + int(4000) }) }));
      if (m === 1) return wire(frameBytes({ ...h, type: MsgType.PING, body: encode({ d: bytes(int(200)) }) }));
      if (m === 2) {
        dims = r() < 0.1 ? { nIn: 100, nRec: 200, nOut: 2 } : { nIn: 1 + int(20), nRec: 1 + int(30), nOut: 1 + int(4) }; // big: RUN spans polls
        return wire(frameBytes({ ...h, type: MsgType.CONFIGURE, body: encode({
          ...dims, neuron: pick(["lif", "alif"]), beta: r() < 0.3 ? 0.5 : 0, optimizer: pick(["gd", "adam"]), loss: pick(["mse", "ce"]),
          feedback: pick(["symmetric", "random"]), refractory: int(3), rateReg: r() < 0.3 ? { cReg: 1, fTargetHz: 10 } : null,
        }) }));
      }
      if (m >= 6 && m <= 8) { // RUN: right shapes most of the time
        const n = 1 + int(40);
        const xf = r() < 0.2 ? 1 : 0;
        const xb = xf ? n * dims.nIn * 4 : n * ((dims.nIn + 7) >> 3);
        const b: Record<string, unknown> = { n, x: r() < 0.9 ? bytes(xb) : bytes(int(100)), rs: r() < 0.5, end: r() < 0.5, o: int(16) };
        if (xf) { b.xf = 1; b.x = f32le(Array.from({ length: n * dims.nIn }, () => (r() < 0.01 ? NaN : r()))); }
        if (r() < 0.7) b.tg = f32le(Array.from({ length: n * dims.nOut + (r() < 0.1 ? 1 : 0) }, () => r()));
        if (r() < 0.2) b.ls = f32le(Array.from({ length: n * dims.nRec }, () => r() - 0.5));
        if (r() < 0.2) b.m = bytes((n + 7) >> 3);
        return wire(frameBytes({ ...h, type: MsgType.RUN, body: encode(b) }));
      }
      if (m === 9) return wire(frameBytes({ ...h, type: MsgType.APPLY, body: encode({ opt: int(2), lr: r() * 0.1 }) }));
      if (m === 10) return wire(frameBytes({ ...h, type: MsgType.GRADS, body: encode({ p: pick([0, 1, 2, 3, 4, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]), o: int(5), n: int(100) }) }));
      if (m === 11) {
        const op = int(5);
        const b: Record<string, unknown> = { op };
        if (op === 0) Object.assign(b, { o: int(3000), n: int(300) });
        if (op === 1) Object.assign(b, { o: r() < 0.5 ? 0 : int(3000), d: bytes(int(400)) });
        return wire(frameBytes({ ...h, type: MsgType.CHECKPOINT, body: encode(b) }));
      }
      if (m === 3) return wire(frameBytes({ ...h, type: MsgType.WRITE, body: encode({ p: int(5), o: int(10), d: f32le(Array.from({ length: int(100) }, () => r() - 0.5)) }) }));
      if (m === 4) return wire(frameBytes({ ...h, type: MsgType.READ, body: encode({ p: int(5), o: int(10), n: int(300) }) }));
      return wire(frameBytes({ ...h, type: MsgType.RESET, body: encode({ k: int(16) }) }));
    }
    if (kind < 35) return wire(frameBytes({ ...header(), body: body() })); // valid frame, random body
    if (kind < 50) { // bit flips, CRC fixed (reaches the parser)
      const raw = frameBytes({ ...header(), body: body() });
      for (let k = 1 + int(4); k > 0; k--) raw[int(raw.length - 4)]! ^= 1 << int(8);
      return wire(fixCrc(raw));
    }
    if (kind < 58) { // bit flips, CRC not fixed
      const raw = frameBytes({ ...header(), body: body() });
      raw[int(raw.length)]! ^= 1 << int(8);
      return wire(raw);
    }
    if (kind < 66) { // truncated / extended body, CRC fixed
      const raw = frameBytes({ ...header(), body: body() });
      const cut = int(raw.length);
      const ext = r() < 0.5 ? raw.slice(0, cut) : Uint8Array.from([...raw.subarray(0, raw.length - 4), ...bytes(int(20)), 0, 0, 0, 0]);
      return wire(fixCrc(ext));
    }
    if (kind < 72) { // header fields changed, CRC fixed
      const raw = frameBytes({ ...header(), body: body() });
      raw[int(3)] = pick([0, 1, 2, 3, 0xff, int(256)]);
      return wire(fixCrc(raw));
    }
    if (kind < 78) return wire(frameBytes({ ...header(), body: special() }));
    if (kind < 84) { // wire-level damage: dropped / inserted / zeroed bytes
      const w = Array.from(wire(frameBytes({ ...header(), body: body() })));
      for (let k = 1 + int(3); k > 0; k--) {
        const at = 1 + int(w.length - 2);
        const m = int(3);
        if (m === 0) w.splice(at, 1);
        else if (m === 1) w.splice(at, 0, int(256));
        else w[at] = 0;
      }
      return Uint8Array.from([0, ...w, 0]);
    }
    if (kind < 88) return wire(frameBytes({ ...header(), body: encode({ d: bytes(2100 + int(3000)) }) })); // oversized
    if (kind < 94) return Uint8Array.from([...bytes(1 + int(300)), 0]); // noise
    if (kind < 97) return wire(bytes(10 + int(100))); // COBS-valid noise
    return Uint8Array.from([0, ...new Array(1 + int(5000)).fill(0).map(() => 1 + int(255)), 0]); // long run without delimiter
  };
}

interface Check {
  answers: number;
  successes: number;
  byType: Record<number, number>;
  requests: number;
  errors: number;
  malformed: string[];
}

/** Checks the firmware's answer to one input. */
function checkAnswer(input: Uint8Array, output: Uint8Array, c: Check): void {
  // what was sent: the blocks of the input, and whether one of them is a valid request
  const requests: { seq: number; type: number }[] = [];
  let blocks = 0;
  new FrameSplitter((b) => {
    blocks++;
    const raw = cobsDecode(b);
    if (!raw) return;
    if (raw.length > 2048) return;
    const f = parseFrame(raw);
    if (typeof f !== "string" && f.version === 1 && f.flags === 0) requests.push({ seq: f.seq, type: f.type });
  }).push(input);
  const frames: ReturnType<typeof decodeFrame>[] = [];
  new FrameSplitter((b) => frames.push(decodeFrame(b))).push(output);
  if (output.length > 0 && output[output.length - 1] !== 0) c.malformed.push("output does not end with a delimiter");
  c.answers += frames.length;
  c.requests += requests.length;
  for (const f of frames) {
    if (typeof f === "string") {
      c.malformed.push(`answer fails ${f}`);
      continue;
    }
    if (f.version !== 1) c.malformed.push(`answer version ${f.version}`);
    if (f.flags !== FLAG_RESPONSE && f.flags !== FLAG_EVENT) c.malformed.push(`answer flags ${f.flags}`);
    let body: Record<string, unknown>;
    try {
      body = decodeBody(f.body);
    } catch (e) {
      c.malformed.push(`answer body: ${(e as Error).message}`);
      continue;
    }
    const why = validateDeviceBody(f.type, body);
    if (why) c.malformed.push(`answer type ${f.type}: ${why}`);
    if (f.type === MsgType.ERROR) c.errors++;
    else if (f.flags === FLAG_RESPONSE) {
      c.successes++;
      c.byType[f.type] = (c.byType[f.type] ?? 0) + 1;
    }
    if (f.type === MsgType.ERROR && (typeof body.m !== "string" || body.m.length === 0)) c.malformed.push("ERROR without text");
  }
  if (requests.length === 1) {
    const q = requests[0]!;
    const ok = frames.length === 1 && typeof frames[0] !== "string" && frames[0]!.seq === q.seq &&
      (frames[0]!.type === q.type || frames[0]!.type === MsgType.ERROR);
    if (!ok) c.malformed.push(`request type ${q.type} seq ${q.seq}: ${frames.length} answers`);
  } else if (frames.length > blocks) {
    c.malformed.push(`${frames.length} answers to an input of ${blocks} blocks`);
  }
}

describe("fuzz: firmware decoder and dispatcher, in Node and as wasm2c-native code", () => {
  let worker: Worker;
  let native: string;
  beforeAll(async () => {
    const { bytes, wasmPath } = await buildFirmware();
    worker = new Worker(WORKER, { eval: true, workerData: { wasm: bytes } });
    native = await buildNativeFirmware(wasmPath);
  });
  afterAll(async () => {
    await worker?.terminate();
  });

  const hex = (b: Uint8Array, n = 64) => `${Buffer.from(b.subarray(0, n)).toString("hex")}${b.length > n ? "..." : ""}`;

  it(`${TOTAL} random and mutated frames: no trap, no hang, every answer well-formed, native = Node`, async () => {
    const gen = generator(SEED);
    const c: Check = { answers: 0, successes: 0, byType: {}, requests: 0, errors: 0, malformed: [] };
    let sent = 0;
    let pages = 0;
    let differ = 0;
    let nativeChecked = 0;
    const t0 = performance.now();
    while (sent < TOTAL) {
      const inputs = Array.from({ length: BATCH }, gen);
      const node = new Promise<{ outs?: Uint8Array[]; error?: string; index?: number; pages?: number }>((resolve) => {
        const timer = setTimeout(() => resolve({ error: `hang: batch not answered within ${BATCH_TIMEOUT_MS} ms` }), BATCH_TIMEOUT_MS);
        worker.once("message", (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        worker.postMessage(inputs);
      });
      const checkNative = (sent / BATCH) % NATIVE_EVERY === 0;
      const [reply, nat] = await Promise.all([node, checkNative ? runNativeFirmware(native, inputs) : undefined]);
      if (reply.error) {
        const at = reply.index !== undefined ? inputs[reply.index]! : undefined;
        throw new Error(`${reply.error}${at ? ` on input ${hex(at)}` : ""} — ${REPLAY}`);
      }
      if (nat?.stop) throw new Error(`native: ${nat.stop.why} on input ${hex(inputs[nat.stop.index]!)} — ${REPLAY}`);
      if (nat) nativeChecked += inputs.length;
      pages = reply.pages ?? 0;
      for (let i = 0; i < inputs.length; i++) {
        checkAnswer(inputs[i]!, reply.outs![i]!, c);
        if (nat && Buffer.compare(nat.outs[i]!, reply.outs![i]!) !== 0) {
          differ++;
          c.malformed.push(`native and Node answer input ${sent + i} (${hex(inputs[i]!)}) differently: ${hex(nat.outs[i]!)} vs ${hex(reply.outs![i]!)}`);
        }
      }
      sent += inputs.length;
      if (c.malformed.length > 0) break;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`fuzz (seed ${SEED}): ${sent} inputs, ${c.requests} valid requests, ${c.answers} answers (${c.errors} ERROR, ${c.successes} success: ${JSON.stringify(c.byType)}), ${pages} pages, ${nativeChecked} also native with ${differ} differences, ${secs.toFixed(1)} s`);
    expect(c.malformed.slice(0, 10), REPLAY).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(TOTAL);
    expect(nativeChecked).toBeGreaterThanOrEqual(TOTAL / NATIVE_EVERY);
    expect(c.errors, REPLAY).toBeGreaterThan(TOTAL / 10);
    expect(c.successes, REPLAY).toBeGreaterThan(TOTAL / 20);
    for (const t of [MsgType.HELLO, MsgType.PING, MsgType.CONFIGURE, MsgType.RUN, MsgType.APPLY, MsgType.GRADS, MsgType.CHECKPOINT]) {
      expect(c.byType[t] ?? 0, `successful ${t} — ${REPLAY}`).toBeGreaterThan(50);
    }
  }, 180_000);
});
