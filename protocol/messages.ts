// Message layer of PROTOCOL.md: type numbers, error codes, body shapes and their validation,
// and the packers for the binary fields (little-endian f32 arrays, spike bitmaps).
import { decode, encode } from "@msgpack/msgpack";

export const MsgType = {
  HELLO: 0x01,
  PING: 0x02,
  RESET: 0x03,
  CONFIGURE: 0x04,
  WRITE: 0x05,
  READ: 0x06,
  RUN: 0x07,
  APPLY: 0x08,
  GRADS: 0x09,
  CHECKPOINT: 0x0a,
  ALIGN: 0x0b,
  LOG: 0x10,
  ACK: 0x11,
  ERROR: 0x12,
} as const;
export type MsgTypeName = keyof typeof MsgType;
export const MSG_TYPE_NAME: Record<number, MsgTypeName> = Object.fromEntries(
  Object.entries(MsgType).map(([k, v]) => [v, k as MsgTypeName]),
);
/** Types a host may send as requests. */
export const REQUEST_TYPES: readonly number[] = [
  MsgType.HELLO, MsgType.PING, MsgType.RESET, MsgType.CONFIGURE, MsgType.WRITE, MsgType.READ,
  MsgType.RUN, MsgType.APPLY, MsgType.GRADS, MsgType.CHECKPOINT, MsgType.ALIGN,
];

export const ErrorCode = {
  BAD_FRAME: 1,
  TOO_LARGE: 2,
  BAD_VERSION: 3,
  UNKNOWN_TYPE: 4,
  MALFORMED: 5,
  BAD_FIELD: 6,
  BAD_SHAPE: 7,
  BAD_VALUE: 8,
  NO_MEMORY: 9,
  NOT_CONFIGURED: 10,
  BUSY: 11,
  UNSUPPORTED: 12,
  STORAGE: 13,
  INTERNAL: 14,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export const ERROR_NAME: Record<number, ErrorCodeName> = Object.fromEntries(
  Object.entries(ErrorCode).map(([k, v]) => [v, k as ErrorCodeName]),
);
/** One sentence per error code, printed by the host in front of the device's own text. */
export const ERROR_WORDS: Record<ErrorCodeName, string> = {
  BAD_FRAME: "the device received a damaged frame (CRC mismatch)",
  TOO_LARGE: "the frame is larger than the device's maximum frame size",
  BAD_VERSION: "the device speaks a different protocol version",
  UNKNOWN_TYPE: "the device does not know this message type",
  MALFORMED: "the message body is not valid MessagePack of the expected form",
  BAD_FIELD: "a field is missing or has the wrong type",
  BAD_SHAPE: "an array has the wrong length for the configured model",
  BAD_VALUE: "a value is out of range (NaN, infinity or beyond a limit)",
  NO_MEMORY: "the model does not fit in the device's RAM",
  NOT_CONFIGURED: "the device has no model yet (send CONFIGURE first)",
  BUSY: "the device is still working on another request",
  UNSUPPORTED: "this firmware does not support the request",
  STORAGE: "persistent storage failed or holds no valid checkpoint",
  INTERNAL: "internal firmware error",
};

/** Parameter (WRITE/READ/GRADS 0..4) and trace (GRADS 16..) identifiers. */
export const ParamId = { wIn: 0, wRec: 1, wOut: 2, bOut: 3, B: 4 } as const;
/** e-prop WRITE ids of the accumulated gradients: ParamId + 8 (wIn..bOut; several boards' sum). */
export const GRAD_WRITE_ID = 8;
export type ParamName = keyof typeof ParamId;
export const TraceId = {
  xbar: 16, zbar: 17, epsAIn: 18, epsARec: 19, ebarIn: 20, ebarRec: 21, v: 22, a: 23, z: 24, y: 25,
} as const;

export const RunOut = { Y: 1, SPIKE_COUNTS: 2, Z: 4 } as const;
export const ResetWhat = { STATE: 1, GRADS: 2, OPTIMIZER: 4, ALL: 8 } as const;
export const CheckpointOp = { READ: 0, WRITE: 1, SAVE: 2, LOAD: 3, INFO: 4 } as const;
export const InputFormat = { BITS: 0, F32: 1 } as const;
export const Optimizer = { GD: 0, ADAM: 1 } as const;

// ---- binary fields ----

/** Little-endian float32 bytes of `a` (what every float-array field carries). */
export function f32le(a: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

export function fromF32le(b: Uint8Array): Float32Array {
  if (b.length % 4 !== 0) throw new Error(`f32 array: ${b.length} bytes is not a multiple of 4`);
  const out = new Float32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

export function u16le(a: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setUint16(i * 2, a[i]!, true);
  return out;
}

export function fromU16le(b: Uint8Array): Uint16Array {
  if (b.length % 2 !== 0) throw new Error(`u16 array: ${b.length} bytes is not a multiple of 2`);
  const out = new Uint16Array(b.length / 2);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

/** Bytes per step of a bitmap row of `width` bits. */
export function bitRowBytes(width: number): number {
  return (width + 7) >>> 3;
}

/** Packs rows (steps) of 0/1 values, bit i of row t at byte t*rowBytes + (i>>3), bit (i&7) (LSB first). */
export function packBits(rows: ArrayLike<ArrayLike<number>>, width: number): Uint8Array {
  const rb = bitRowBytes(width);
  const out = new Uint8Array(rows.length * rb);
  for (let t = 0; t < rows.length; t++) {
    const r = rows[t]!;
    if (r.length !== width) throw new Error(`bit row ${t}: length ${r.length}, expected ${width}`);
    for (let i = 0; i < width; i++) if (r[i]) out[t * rb + (i >>> 3)]! |= 1 << (i & 7);
  }
  return out;
}

export function unpackBits(b: Uint8Array, steps: number, width: number): number[][] {
  const rb = bitRowBytes(width);
  if (b.length !== steps * rb) throw new Error(`bitmap: ${b.length} bytes, expected ${steps * rb}`);
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const row = new Array<number>(width);
    for (let i = 0; i < width; i++) row[i] = (b[t * rb + (i >>> 3)]! >>> (i & 7)) & 1;
    out.push(row);
  }
  return out;
}

// ---- bodies ----

export type Body = Record<string, unknown>;

export function encodeBody(body: Body): Uint8Array {
  return encode(body);
}

/** Decodes a body; throws if it is not exactly one MessagePack map with string keys. */
export function decodeBody(bytes: Uint8Array): Body {
  const v = decode(bytes);
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    throw new Error("body is not a map");
  }
  return v as Body;
}

export interface HelloInfo {
  pv: number;
  fw: string;
  board: string;
  rt: string;
  ram: number;
  mf: number;
  caps: string[];
  /** Learning rules the firmware carries (absent from firmware older than the rule seam: e-prop only). */
  rules?: string[];
}

type FieldKind = "uint" | "int" | "num" | "nums" | "str" | "bin" | "bool" | "strs" | "map" | "nil|map";
type Schema = Record<string, { kind: FieldKind; optional?: boolean }>;

const req = (kind: FieldKind) => ({ kind });
const opt = (kind: FieldKind) => ({ kind, optional: true });

/** What a device answers to each request type (RESPONSE flag set), plus ERROR/ACK/LOG. */
export const RESPONSE_SCHEMA: Record<number, Schema> = {
  [MsgType.HELLO]: {
    pv: req("uint"), fw: req("str"), board: req("str"), rt: req("str"), ram: req("uint"),
    mf: req("uint"), caps: req("strs"), rules: opt("strs"),
  },
  [MsgType.PING]: { d: opt("bin"), t: req("uint") },
  [MsgType.RESET]: { k: req("uint") },
  [MsgType.CONFIGURE]: { bytes: req("uint"), ram: req("uint") },
  [MsgType.WRITE]: { p: req("uint"), n: req("uint") },
  [MsgType.READ]: { p: req("uint"), o: req("uint"), d: req("bin") },
  [MsgType.RUN]: {
    n: req("uint"), t: req("uint"), y: opt("bin"), sc: opt("bin"), z: opt("bin"), loss: opt("num"),
    layerLoss: opt("nums"), // DECOLLE: E^l of every layer
    pred: opt("bin"), res: opt("bin"), // EqProp: predictions u16 [n], residual maxima f32 [2|3]
  },
  [MsgType.APPLY]: { k: req("uint"), lr: opt("num") }, // e-prop: lr, the float32 rate applied
  [MsgType.GRADS]: { p: req("uint"), o: req("uint"), d: req("bin") },
  [MsgType.CHECKPOINT]: { size: req("uint"), k: opt("uint"), o: opt("uint"), n: opt("uint"), d: opt("bin") },
  // e-prop with feedback "sal": an alignment phase (PROTOCOL.md ALIGN)
  [MsgType.ALIGN]: { n: req("uint"), t: req("uint"), lo: req("uint"), up: req("uint"), gain: req("num"), cos: req("num") },
  [MsgType.ERROR]: { c: req("uint"), m: req("str"), f: opt("str"), rt: opt("uint") },
  [MsgType.ACK]: {},
  [MsgType.LOG]: { l: req("uint"), m: req("str"), boot: opt("bool") },
};

function kindOk(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case "uint": return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    case "int": return typeof v === "number" && Number.isInteger(v);
    case "num": return typeof v === "number";
    case "nums": return Array.isArray(v) && v.every((x) => typeof x === "number");
    case "str": return typeof v === "string";
    case "bin": return v instanceof Uint8Array;
    case "bool": return typeof v === "boolean";
    case "strs": return Array.isArray(v) && v.every((s) => typeof s === "string");
    case "map": return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
    case "nil|map": return v === null || kindOk("map", v);
  }
}

/** Checks a decoded body against a schema: every required field present with the right kind, no unknown field. */
export function checkSchema(schema: Schema, body: Body): string | null {
  for (const [k, s] of Object.entries(schema)) {
    if (!(k in body)) {
      if (!s.optional) return `missing field '${k}'`;
      continue;
    }
    if (!kindOk(s.kind, body[k])) return `field '${k}' is not a ${s.kind}`;
  }
  for (const k of Object.keys(body)) if (!(k in schema)) return `unknown field '${k}'`;
  return null;
}

/** Validates what a device sent for a given frame type; returns a reason or null. */
export function validateDeviceBody(type: number, body: Body): string | null {
  const schema = RESPONSE_SCHEMA[type];
  if (!schema) return `unknown message type 0x${type.toString(16)}`;
  return checkSchema(schema, body);
}

/** Decodes + validates a device body in one go (throws with the reason). */
export function parseDeviceBody(type: number, bytes: Uint8Array): Body {
  const body = decodeBody(bytes);
  const why = validateDeviceBody(type, body);
  if (why) throw new Error(`${MSG_TYPE_NAME[type] ?? type}: ${why}`);
  return body;
}

/** A device-reported error, printable in words. */
export class DeviceError extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
    readonly field?: string,
    readonly requestType?: number,
  ) {
    const name = ERROR_NAME[code];
    const words = name ? ERROR_WORDS[name] : `unknown error code ${code}`;
    const where = field ? ` (field ${field})` : "";
    const req = requestType !== undefined ? ` in reply to ${MSG_TYPE_NAME[requestType] ?? requestType}` : "";
    super(`device error ${name ?? code}${req}: ${words}${where}${text ? ` — ${text}` : ""}`);
    this.name = "DeviceError";
  }

  static fromBody(b: Body): DeviceError {
    return new DeviceError(
      b.c as number, (b.m as string) ?? "", b.f as string | undefined, b.rt as number | undefined,
    );
  }
}

export { decode as msgpackDecode, encode as msgpackEncode };
