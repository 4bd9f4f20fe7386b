// The firmware's protocol engine (PROTOCOL.md): reads the UART, decodes COBS incrementally,
// checks CRC-32C / version / flags, suppresses duplicates by (seq, CRC), dispatches requests,
// and sends exactly one response frame per request (the response, or ERROR). HELLO, PING and
// RESET are handled here; every model message goes to handlers.ts, which routes it to the active
// learning rule (device/firmware/rules.ts).
import { uart_read, uart_write, millis } from "./hal";
import { crc32c, crc32cInit } from "./crc32c";
import { CobsDecoder, cobsReset, cobsFeed, cobsFinish, cobsEncode } from "./cobs";
import {
  ldU16, ldU32, stU16, stU32, mpReadBegin, mpNext, mpSkip, mpStrIs, mpReadMap, mpReadU32, vU32, mpReadBin,
  rPos, rEnd, tKind, tPtr, tLen, T_MAP, T_STR,
  mpWriteBegin, mpWritten, wErr, mpWriteMap, mpWriteUint, mpWriteStr, mpWriteStrBytes, mpWriteBin, mpWriteBool,
} from "./msgpack";
import {
  errCode, errField, errText, errArg0, errArg1, ERR_NAME, errNameLen, fail, clearError,
  E_BAD_FRAME, E_TOO_LARGE, E_BAD_VERSION, E_UNKNOWN_TYPE, E_MALFORMED, E_BAD_FIELD, E_BUSY, E_INTERNAL,
} from "./errors";
import { H_DONE, H_PENDING } from "./rule";
import { hModel, hReset, hContinue, hFreeRam, hWriteCaps, hWriteRules } from "./handlers";

export const PROTO_VERSION: u32 = 1;
export const FW_VERSION: string = "0.1.0";
export const RUNTIME: string = "wasm32-as-stub";
/** Largest unencoded frame (header + body + CRC) this firmware accepts and sends. */
export const MAX_FRAME: u32 = 2048;
/** Until HELLO says otherwise, responses stay within this (every host accepts it). */
export const BASE_MAX_FRAME: u32 = 256;
const HDR: u32 = 5;
const CRCB: u32 = 4;
const MIN_FRAME: u32 = 10;

export const FLAG_RESPONSE: u32 = 1;
export const FLAG_EVENT: u32 = 2;

export const M_HELLO: u32 = 0x01;
export const M_PING: u32 = 0x02;
export const M_RESET: u32 = 0x03;
export const M_CONFIGURE: u32 = 0x04;
export const M_WRITE: u32 = 0x05;
export const M_READ: u32 = 0x06;
export const M_RUN: u32 = 0x07;
export const M_APPLY: u32 = 0x08;
export const M_GRADS: u32 = 0x09;
export const M_CHECKPOINT: u32 = 0x0a;
export const M_LOG: u32 = 0x10;
export const M_ACK: u32 = 0x11;
export const M_ERROR: u32 = 0x12;

// Buffers (static; sizes are literals because memory.data needs constants).
const RX_A: usize = memory.data(2048, 8);
const RX_B: usize = memory.data(2048, 8);
const TX_RAW: usize = memory.data(2048, 8);
const TX_ENC: usize = memory.data(2064, 8); // cobs(2048) = 2057, + delimiter
const EV_RAW: usize = memory.data(384, 8);
const EV_ENC: usize = memory.data(400, 8);
const IN_CHUNK: usize = memory.data(256, 8);
const SCRATCH: usize = memory.data(256, 8);
const KEY_BUF: usize = memory.data(32, 8);
/** A board may write its NUL-terminated ASCII id (<= 15 chars) here before init(); HELLO reports it. */
export const BOARD_ID: usize = memory.data(16, 8);

const dec = changetype<CobsDecoder>(memory.data(offsetof<CobsDecoder>(), 8));

let rxBuf: usize = RX_A;
let curBuf: usize = RX_B;
/** Max frame the host accepts (HELLO `mf`), capped at MAX_FRAME. */
let hostMax: u32 = BASE_MAX_FRAME;

let haveLast: bool = false;
let lastSeq: u32 = 0;
let lastCrc: u32 = 0;
let lastType: u32 = 0;
let txEncLen: u32 = 0;

let pending: bool = false;
let pendSeq: u32 = 0;
let pendType: u32 = 0;

let evSeq: u32 = 0;
/** A raw field name (from the request) for the next error, when errField is "". */
let keyLen: u32 = 0;

/** Count of frames handled per outcome (exported through PING? no: kept for debugging). */
export let framesIn: u32 = 0;

export function dispatcherInit(): void {
  crc32cInit();
  dec.out = rxBuf;
  dec.cap = MAX_FRAME;
  cobsReset(dec);
  sendLog(1, "edgeprop firmware ready", true);
}

/** True while a request is in progress over several polls (a long RUN). */
export function dispatcherBusy(): bool {
  return pending;
}

/** One bounded slice of work: drain the UART (at most 16 KiB), then advance a pending request. */
export function dispatcherPoll(): void {
  for (let k = 0; k < 64; k++) {
    const n = uart_read(IN_CHUNK, 256);
    if (n == 0) break;
    const m: u32 = n > 256 ? 256 : n;
    for (let i: u32 = 0; i < m; i++) {
      const b = load<u8>(IN_CHUNK + <usize>i);
      if (b == 0) onDelimiter();
      else cobsFeed(dec, b);
    }
  }
  if (pending) {
    beginBody();
    clearError();
    finish(hContinue(), pendType, pendSeq);
  }
}

// ---------------------------------------------------------------- receive

function onDelimiter(): void {
  if (!dec.started) {
    cobsReset(dec);
    return;
  }
  const valid = cobsFinish(dec);
  const len = dec.len;
  const overflow = dec.overflow;
  cobsReset(dec);
  if (!valid || len < MIN_FRAME) return; // not a frame: dropped
  framesIn++;
  const buf = rxBuf;
  const ver = <u32>load<u8>(buf);
  const type = <u32>load<u8>(buf + 1);
  const flags = <u32>load<u8>(buf + 2);
  const seq = ldU16(buf + 3);
  if (overflow) {
    // the CRC cannot be checked (the tail was not stored): answer only plausible requests
    if (ver == PROTO_VERSION && flags == 0) {
      fail(E_TOO_LARGE, "frame", "frame of % bytes exceeds the max frame of % bytes", len, MAX_FRAME);
      sendErrorEvent(type, seq);
    }
    return;
  }
  const n = len - CRCB;
  const crc = crc32c(buf, n);
  if (crc != ldU32(buf + n)) {
    fail(E_BAD_FRAME, "crc", "CRC-32C mismatch");
    sendErrorEvent(type, seq);
    return;
  }
  if ((flags & (FLAG_RESPONSE | FLAG_EVENT)) != 0) return; // a device-side frame (echo): dropped
  if (ver != PROTO_VERSION) {
    fail(E_BAD_VERSION, "version", "protocol version % is not supported (device speaks %)", ver, PROTO_VERSION);
    sendErrorEvent(type, seq);
    return;
  }
  if (flags != 0) {
    fail(E_MALFORMED, "flags", "unknown flag bits %", flags);
    sendErrorEvent(type, seq);
    return;
  }
  // HELLO always executes (idempotent): it starts a host session, so a stale cached response
  // from an earlier host process can never be replayed to the new one.
  if (type != M_HELLO && haveLast && seq == lastSeq && crc == lastCrc && type == lastType) {
    // a retransmission: never execute twice
    if (pending) sendAck(seq);
    else uart_write(TX_ENC, txEncLen);
    return;
  }
  if (pending) {
    fail(E_BUSY, "", "still working on request seq %", pendSeq);
    sendErrorEvent(type, seq);
    return;
  }
  haveLast = true;
  lastSeq = seq;
  lastCrc = crc;
  lastType = type;
  execute(buf, type, seq, buf + HDR, n - HDR);
}

function execute(buf: usize, type: u32, seq: u32, body: usize, bodyLen: u32): void {
  clearError();
  keyLen = 0;
  // structural check: exactly one map, nothing after it
  mpReadBegin(body, bodyLen);
  let ok = mpNext() == T_MAP;
  if (ok) {
    mpReadBegin(body, bodyLen);
    ok = mpSkip() && rPos == rEnd;
  }
  beginBody();
  if (!ok) {
    finish(fail(E_MALFORMED, "", "body is not exactly one MessagePack map"), type, seq);
    return;
  }
  mpReadBegin(body, bodyLen);
  let r: i32;
  if (type == M_HELLO) r = doHello();
  else if (type == M_PING) r = doPing();
  else if (type == M_RESET) r = doReset();
  else if (type >= M_CONFIGURE && type <= M_CHECKPOINT) r = hModel(type, body, bodyLen);
  else r = fail(E_UNKNOWN_TYPE, "type", "unknown message type %", type);
  if (r == H_PENDING) {
    // keep the request's bytes alive: receive into the other buffer from now on
    pending = true;
    pendSeq = seq;
    pendType = type;
    curBuf = buf;
    rxBuf = buf == RX_A ? RX_B : RX_A;
    dec.out = rxBuf;
    return;
  }
  finish(r, type, seq);
}

// ---------------------------------------------------------------- send

function txCap(): u32 {
  return hostMax < MAX_FRAME ? hostMax : MAX_FRAME;
}

/** Positions the writer at the response body. */
function beginBody(): void {
  mpWriteBegin(TX_RAW + HDR, txCap() - HDR - CRCB);
}

/** Completes the response to (type, seq) with result r (0 = body written, else error code). */
function finish(r: i32, type: u32, seq: u32): void {
  if (r == H_PENDING) return;
  pending = false;
  if (r == H_DONE && wErr) {
    r = fail(E_TOO_LARGE, "", "the response exceeds the max frame of % bytes: ask for fewer elements", txCap());
  }
  let outType = type;
  if (r != H_DONE) {
    if (errCode == 0) fail(E_INTERNAL, "", "handler returned error % without text", <u32>r);
    beginBody();
    writeErrorBody(type);
    outType = M_ERROR;
  }
  const bodyLen = mpWritten();
  txEncLen = sealFrame(TX_RAW, TX_ENC, outType, FLAG_RESPONSE, seq, bodyLen);
  uart_write(TX_ENC, txEncLen);
}

/** Header + CRC around a body already at raw+HDR; COBS into enc with delimiter; returns wire length. */
function sealFrame(raw: usize, enc: usize, type: u32, flags: u32, seq: u32, bodyLen: u32): u32 {
  store<u8>(raw, <u8>PROTO_VERSION);
  store<u8>(raw + 1, <u8>type);
  store<u8>(raw + 2, <u8>flags);
  stU16(raw + 3, seq);
  const n = HDR + bodyLen;
  stU32(raw + n, crc32c(raw, n));
  const e = cobsEncode(raw, n + CRCB, enc);
  store<u8>(enc + e, 0);
  return e + 1;
}

function writeErrorBody(reqType: u32): void {
  const hasField = errField.length > 0 || keyLen > 0;
  mpWriteMap(hasField ? 4 : 3);
  mpWriteStr("c");
  mpWriteUint(<u32>errCode);
  mpWriteStr("m");
  mpWriteStrBytes(SCRATCH, formatText());
  if (hasField) {
    mpWriteStr("f");
    if (errField.length > 0) mpWriteStr(errField);
    else mpWriteStrBytes(KEY_BUF, keyLen);
  }
  mpWriteStr("rt");
  mpWriteUint(reqType);
}

/** errText with '%' replaced by errArg0 then errArg1 and '$' by the error's name, into SCRATCH; returns its length. */
function formatText(): u32 {
  let o: u32 = 0;
  let arg = 0;
  const cap: u32 = 160; // keeps any ERROR body within the 256-byte base frame
  for (let i = 0; i < errText.length && o < cap; i++) {
    const c = errText.charCodeAt(i);
    if (c == 37 /* % */ && arg < 2) {
      o = writeDecimal(arg == 0 ? errArg0 : errArg1, o);
      arg++;
    } else if (c == 36 /* $ */) {
      for (let j: u32 = 0; j < errNameLen && o < cap; j++, o++) {
        const b = load<u8>(ERR_NAME + <usize>j);
        store<u8>(SCRATCH + <usize>o, b >= 32 && b < 127 ? b : 63);
      }
    } else {
      store<u8>(SCRATCH + <usize>o, <u8>(c < 128 ? c : 63));
      o++;
    }
  }
  return o;
}

function writeDecimal(v: u32, o: u32): u32 {
  let digits: u32 = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  let p = o + digits;
  let t = v;
  for (let d: u32 = 0; d < digits; d++) {
    p--;
    store<u8>(SCRATCH + <usize>p, <u8>(48 + t % 10));
    t /= 10;
  }
  return o + digits;
}

/** An ERROR that is not the cached response of an executed request (bad CRC, busy, ...). */
function sendErrorEvent(reqType: u32, seq: u32): void {
  mpWriteBegin(EV_RAW + HDR, 384 - HDR - CRCB);
  writeErrorBody(reqType);
  const len = sealFrame(EV_RAW, EV_ENC, M_ERROR, FLAG_RESPONSE, seq, mpWritten());
  uart_write(EV_ENC, len);
  clearError();
}

function sendAck(seq: u32): void {
  mpWriteBegin(EV_RAW + HDR, 384 - HDR - CRCB);
  mpWriteMap(0);
  const len = sealFrame(EV_RAW, EV_ENC, M_ACK, FLAG_RESPONSE, seq, mpWritten());
  uart_write(EV_ENC, len);
}

/** An unsolicited LOG event (level 0 debug, 1 info, 2 warn, 3 error); `boot` marks the greeting after a (re)start. */
export function sendLog(level: u32, text: string, boot: bool = false): void {
  mpWriteBegin(EV_RAW + HDR, 384 - HDR - CRCB);
  mpWriteMap(boot ? 3 : 2);
  if (boot) {
    mpWriteStr("boot");
    mpWriteBool(true);
  }
  mpWriteStr("l");
  mpWriteUint(level);
  mpWriteStr("m");
  mpWriteStr(text);
  const len = sealFrame(EV_RAW, EV_ENC, M_LOG, FLAG_EVENT, evSeq, mpWritten());
  evSeq = (evSeq + 1) & 0xffff;
  uart_write(EV_ENC, len);
}

// ---------------------------------------------------------------- field helpers

/** Reads the next key of the body map (must be a str); false (error set) otherwise. */
export function readKey(): bool {
  if (mpNext() != T_STR) {
    fail(E_MALFORMED, "", "a map key is not a string");
    return false;
  }
  return true;
}

/** Error for the current key token: copies its name (<= 32 bytes) as the error's field. */
export function failKey(code: i32, text: string, a0: u32 = 0, a1: u32 = 0): i32 {
  const n = tKind == T_STR ? (tLen < 32 ? tLen : 32) : 0;
  if (n > 0) memory.copy(KEY_BUF, tPtr, n);
  fail(code, "", text, a0, a1);
  keyLen = n;
  return code;
}

// ---------------------------------------------------------------- built-in messages

function doHello(): i32 {
  const n = mpReadMap();
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("mf")) {
      if (!mpReadU32()) return fail(E_BAD_FIELD, "mf", "must be an unsigned integer");
      const mf = vU32;
      hostMax = mf < BASE_MAX_FRAME ? BASE_MAX_FRAME : mf > MAX_FRAME ? MAX_FRAME : mf;
      beginBody(); // the HELLO response may use the negotiated size
    } else return failKey(E_BAD_FIELD, "unknown field");
  }
  mpWriteMap(8);
  mpWriteStr("pv");
  mpWriteUint(PROTO_VERSION);
  mpWriteStr("fw");
  mpWriteStr(FW_VERSION);
  mpWriteStr("board");
  let bl: u32 = 0;
  while (bl < 15 && load<u8>(BOARD_ID + <usize>bl) != 0) bl++;
  if (bl == 0) mpWriteStr("generic");
  else mpWriteStrBytes(BOARD_ID, bl);
  mpWriteStr("rt");
  mpWriteStr(RUNTIME);
  mpWriteStr("ram");
  mpWriteUint(hFreeRam());
  mpWriteStr("mf");
  mpWriteUint(MAX_FRAME);
  mpWriteStr("caps");
  hWriteCaps();
  mpWriteStr("rules");
  hWriteRules();
  return H_DONE;
}

function doPing(): i32 {
  const n = mpReadMap();
  let dPtr: usize = 0;
  let dLen: u32 = 0;
  let hasD = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("d")) {
      if (!mpReadBin()) return fail(E_BAD_FIELD, "d", "must be a bin");
      dPtr = tPtr;
      dLen = tLen;
      hasD = true;
    } else return failKey(E_BAD_FIELD, "unknown field");
  }
  mpWriteMap(hasD ? 2 : 1);
  if (hasD) {
    mpWriteStr("d");
    mpWriteBin(dPtr, dLen);
  }
  mpWriteStr("t");
  mpWriteUint(millis());
  return H_DONE;
}

function doReset(): i32 {
  const n = mpReadMap();
  let k: u32 = 3;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("k")) {
      if (!mpReadU32(15)) return fail(E_BAD_FIELD, "k", "must be an unsigned integer bitmask <= 15");
      k = vU32;
    } else return failKey(E_BAD_FIELD, "unknown field");
  }
  const r = hReset(k);
  if (r != H_DONE) return r;
  mpWriteMap(1);
  mpWriteStr("k");
  mpWriteUint(k);
  return H_DONE;
}
