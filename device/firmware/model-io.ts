// The rule-neutral halves of the model messages (PROTOCOL.md §4), shared by every rule's
// handlers (device/rules/<rule>/handlers.ts) so that each rule writes only what is its own:
//   - a two-way choice field; WRITE/READ/GRADS: the {p, o, n | d} request;
//   - RUN: the request's fields and shapes, the response's reserved arrays, each step's inputs
//     (x^t unpacked, target^t, mask^t), outputs (y^t, spikes), and the pending continuation;
//   - CHECKPOINT: the {op, o, n, d} request, READ chunks and SAVE of a blob = header + arena.
// Module state, no allocation (the firmware handles one request at a time; a pending RUN keeps
// pointers into the request frame, which the dispatcher keeps alive).
// Alignment: bins in the request and the bins reserved in the response sit at any byte offset, so
// they are read and written byte-wise (msgpack.ts ldF32/ldU16/stU16/stU32) or with memory.copy,
// never with typed loads (the `--memcheck mask` MCU build turns those into VLDR/LDR, which fault
// on unaligned addresses: device/mcu/README.md). Rules' handlers follow the same rule.
import {
  mpReadMap, mpNext, mpStrIs, mpReadU32, T_STR, vU32, mpReadBool, vBool, mpReadBin, tPtr, tLen,
  mpWriteMap, mpWriteStr, mpWriteUint, mpWriteBinReserve, mpReserve, mpWritten, ldF32, ldU16, stU16, stU32,
} from "./msgpack";
import { fail, E_BAD_FIELD, E_BAD_SHAPE, E_BAD_VALUE, E_STORAGE, E_INTERNAL } from "./errors";
import { readKey, failKey } from "./dispatcher";
import { H_DONE, isRuleKey } from "./rule";
import { storage_size, storage_write } from "./hal";

// ---------------------------------------------------------------- fields
/** A str among two choices (after its key): 0 or 1, or -1 with the error set. */
export function readChoice(field: string, a: string, b: string): i32 {
  if (mpNext() != T_STR) { fail(E_BAD_FIELD, field, "must be a string"); return -1; }
  if (mpStrIs(a)) return 0;
  if (mpStrIs(b)) return 1;
  fail(E_BAD_VALUE, field, "unknown choice");
  return -1;
}

// ---------------------------------------------------------------- WRITE / READ / GRADS
export let fP: u32 = 0, fO: u32 = 0, fN: u32 = 0, fHasN: bool = false;
export let fD: usize = 0, fDLen: u32 = 0, fHasD: bool = false;

/** Reads {p, o, n? (allowN), d? (allowD)} into fP, fO, fN, fD; false with the error set. */
export function readPOND(allowN: bool, allowD: bool): bool {
  fP = 0xffffffff; fO = 0; fN = 0; fHasN = false; fD = 0; fDLen = 0; fHasD = false;
  const n = mpReadMap();
  for (let i = 0; i < n; i++) {
    if (!readKey()) return false;
    if (mpStrIs("p")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "p", "must be an unsigned integer"); return false; } fP = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "o", "must be an unsigned integer"); return false; } fO = vU32; }
    else if (allowN && mpStrIs("n")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "n", "must be an unsigned integer"); return false; } fN = vU32; fHasN = true; }
    else if (allowD && mpStrIs("d")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "d", "must be a bin of little-endian f32"); return false; } fD = tPtr; fDLen = tLen; fHasD = true; }
    else { failKey(E_BAD_FIELD, "unknown field"); return false; }
  }
  if (fP == 0xffffffff) { fail(E_BAD_FIELD, "p", "missing"); return false; }
  return true;
}

/** True if the n f32 at p (a payload: any alignment) are all finite. */
export function allFinite(p: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) if (!isFinite(ldF32(p + (<usize>i << 2)))) return false;
  return true;
}

// ---------------------------------------------------------------- RUN
// The request, as read by readRun (bins point into the request frame).
export let runN: u32 = 0, runXf: u32 = 0, runO: u32 = 0;
export let runX: usize = 0, runXLen: u32 = 0, runHasX: bool = false;
export let runTg: usize = 0, runTgLen: u32 = 0, runHasTg: bool = false;
export let runM: usize = 0, runMLen: u32 = 0, runHasM: bool = false;
export let runLs: usize = 0, runLsLen: u32 = 0, runHasLs: bool = false;
export let runRs: bool = false, runEnd: bool = false, runLearn: bool = true, runLearnSet: bool = false;

/** Reads RUN's fields (`ls` only if `allowLs`, `o` <= maxO); false with the error set. */
export function readRun(allowLs: bool, maxO: u32): bool {
  runN = 0; runXf = 0; runO = 0; runHasX = false; runHasTg = false; runHasM = false; runHasLs = false;
  runX = 0; runXLen = 0; runTg = 0; runTgLen = 0; runM = 0; runMLen = 0; runLs = 0; runLsLen = 0;
  runRs = false; runEnd = false; runLearn = true; runLearnSet = false;
  const n = mpReadMap();
  for (let i = 0; i < n; i++) {
    if (!readKey()) return false;
    if (mpStrIs("n")) { if (!mpReadU32(65535)) { fail(E_BAD_FIELD, "n", "must be an unsigned integer <= 65535"); return false; } runN = vU32; }
    else if (mpStrIs("xf")) { if (!mpReadU32(1)) { fail(E_BAD_FIELD, "xf", "must be 0 (bits) or 1 (f32)"); return false; } runXf = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32(maxO)) { fail(E_BAD_FIELD, "o", "must be a bitmask <= %", maxO); return false; } runO = vU32; }
    else if (mpStrIs("x")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "x", "must be a bin"); return false; } runX = tPtr; runXLen = tLen; runHasX = true; }
    else if (mpStrIs("tg")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "tg", "must be a bin of f32"); return false; } runTg = tPtr; runTgLen = tLen; runHasTg = true; }
    else if (mpStrIs("m")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "m", "must be a bin (bitmap)"); return false; } runM = tPtr; runMLen = tLen; runHasM = true; }
    else if (allowLs && mpStrIs("ls")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "ls", "must be a bin of f32"); return false; } runLs = tPtr; runLsLen = tLen; runHasLs = true; }
    else if (mpStrIs("rs")) { if (!mpReadBool()) { fail(E_BAD_FIELD, "rs", "must be a bool"); return false; } runRs = vBool; }
    else if (mpStrIs("end")) { if (!mpReadBool()) { fail(E_BAD_FIELD, "end", "must be a bool"); return false; } runEnd = vBool; }
    else if (mpStrIs("learn")) { if (!mpReadBool()) { fail(E_BAD_FIELD, "learn", "must be a bool"); return false; } runLearn = vBool; runLearnSet = true; }
    else { failKey(E_BAD_FIELD, "unknown field"); return false; }
  }
  return true;
}

/** Checks the RUN against the model's input and output widths (and `ls`'s, lsWidth > 0); false with the error set. */
export function checkRun(nIn: u32, nOut: u32, lsWidth: u32): bool {
  if (runN == 0) { fail(E_BAD_FIELD, "n", "missing or 0"); return false; }
  if (!runHasX) { fail(E_BAD_FIELD, "x", "missing"); return false; }
  const xRow: u32 = runXf == 0 ? (nIn + 7) >> 3 : nIn * 4;
  if (<u64>runXLen != <u64>runN * xRow) { fail(E_BAD_SHAPE, "x", "must be n x % bytes (got % bytes)", xRow, runXLen); return false; }
  if (runHasTg && <u64>runTgLen != <u64>runN * <u64>nOut * 4) { fail(E_BAD_SHAPE, "tg", "must be n x nOut f32 (nOut = %, got % bytes)", nOut, runTgLen); return false; }
  if (runHasM && runMLen != (runN + 7) >> 3) { fail(E_BAD_SHAPE, "m", "must be a bitmap of n bits (% bytes)", (runN + 7) >> 3); return false; }
  if (runHasLs && <u64>runLsLen != <u64>runN * <u64>lsWidth * 4) { fail(E_BAD_SHAPE, "ls", "must be n x nRec f32 (nRec = %, got % bytes)", lsWidth, runLsLen); return false; }
  if (runXf == 1 && !allFinite(runX, runXLen >> 2)) { fail(E_BAD_VALUE, "x", "contains NaN or infinity"); return false; }
  if (runHasTg && !allFinite(runTg, runTgLen >> 2)) { fail(E_BAD_VALUE, "tg", "contains NaN or infinity"); return false; }
  if (runHasLs && !allFinite(runLs, runLsLen >> 2)) { fail(E_BAD_VALUE, "ls", "contains NaN or infinity"); return false; }
  if (!runLearnSet) runLearn = runHasTg || runHasLs;
  return true;
}

// ---- the RUN in progress ----
let rIn: u32 = 0, rOut: u32 = 0, rXRow: u32 = 0, rZRow: u32 = 0;
let rYAt: usize = 0, rScAt: usize = 0, rZAt: usize = 0, rTAt: usize = 0;
let rBodyLen: u32 = 0;
let rActive: bool = false;
/** Steps of the pending RUN done so far (the next step's index). */
export let rT: u32 = 0;

/**
 * Writes the RUN response's head (n, t reserved, the arrays `o` asks for: y [n][nOut] f32, sc
 * u16[width], z bitmap [n][width]) and makes the RUN pending. False if the writer overflowed:
 * the handler returns H_DONE without running and the dispatcher answers TOO_LARGE.
 */
export function beginRun(nIn: u32, nOut: u32, width: u32): bool {
  const o = runO, steps = runN;
  rIn = nIn; rOut = nOut; rZRow = (width + 7) >> 3;
  rXRow = runXf == 0 ? (nIn + 7) >> 3 : nIn * 4;
  mpWriteMap(2 + (o & 1) + ((o >> 1) & 1) + ((o >> 2) & 1) + (runEnd ? 1 : 0));
  mpWriteStr("n");
  mpWriteUint(steps);
  mpWriteStr("t"); // known only after the steps: a fixed-size uint32
  rTAt = mpReserve(5);
  rYAt = 0; rScAt = 0; rZAt = 0;
  if ((o & 1) != 0) { mpWriteStr("y"); rYAt = mpWriteBinReserve(steps * nOut * 4); }
  if ((o & 2) != 0) { mpWriteStr("sc"); rScAt = mpWriteBinReserve(width * 2); }
  if ((o & 4) != 0) { mpWriteStr("z"); rZAt = mpWriteBinReserve(steps * rZRow); }
  if (rTAt == 0 || ((o & 1) != 0 && rYAt == 0) || ((o & 2) != 0 && rScAt == 0) || ((o & 4) != 0 && rZAt == 0)) return false;
  if (rScAt != 0) memory.fill(rScAt, 0, <usize>width * 2);
  if (rZAt != 0) memory.fill(rZAt, 0, <usize>steps * rZRow);
  rBodyLen = mpWritten();
  rT = 0;
  rActive = true;
  return true;
}

/** Step t's inputs: x^t as 0/1 or f32 into pAct[0..nIn), target^t (0 without `tg`) into pTarget; returns mask^t. */
export function stepInputs(pAct: usize, pTarget: usize): f32 {
  const t = rT;
  if (runXf == 0) {
    const row = runX + <usize>(t * rXRow);
    for (let i: u32 = 0; i < rIn; i++) {
      store<f32>(pAct + (<usize>i << 2), ((load<u8>(row + <usize>(i >> 3)) >> <u8>(i & 7)) & 1) != 0 ? <f32>1 : <f32>0);
    }
  } else {
    memory.copy(pAct, runX + <usize>t * (<usize>rIn << 2), <usize>rIn << 2);
  }
  const tgRow = <usize>rOut << 2;
  if (runHasTg) memory.copy(pTarget, runTg + <usize>t * tgRow, tgRow);
  else memory.fill(pTarget, 0, tgRow);
  return runHasM ? <f32>((load<u8>(runM + <usize>(t >> 3)) >> <u8>(t & 7)) & 1) : 1;
}

/** Step t's readout y^t (when the response carries y). */
export function stepOutputs(pY: usize): void {
  if (rYAt != 0) memory.copy(rYAt + <usize>rT * (<usize>rOut << 2), pY, <usize>rOut << 2);
}

/** Whether the response records spikes (sc or z). */
export function wantsSpikes(): bool {
  return rScAt != 0 || rZAt != 0;
}

/** Records a spike of unit `bit` (0..width) at step t into sc and z. */
export function stepSpike(bit: u32): void {
  if (rScAt != 0) {
    const a = rScAt + (<usize>bit << 1);
    const c = ldU16(a); // the response buffer: any alignment
    if (c != 0xffff) stU16(a, c + 1);
  }
  if (rZAt != 0) {
    const a = rZAt + <usize>(rT * rZRow) + <usize>(bit >> 3);
    store<u8>(a, load<u8>(a) | <u8>(1 << <u8>(bit & 7)));
  }
}

/** Step t is done. True while the RUN has steps left. */
export function stepDone(): bool {
  rT++;
  return rT < runN;
}

/** The last step is done: writes `t` (steps since the trial began); the caller adds `loss` at `end`. */
export function endRun(trialSteps: u32): void {
  rActive = false;
  // t as uint32 (0xce + big-endian): a valid, if not minimal, MessagePack uint
  store<u8>(rTAt, 0xce);
  stU32(rTAt + 1, bswap<u32>(trialSteps));
}

/** OP_CONTINUE of a pending RUN: moves the writer past the response written so far; false with the error set. */
export function resumeRun(): bool {
  if (!rActive) { fail(E_INTERNAL, "", "no pending request"); return false; }
  const at = mpReserve(rBodyLen);
  if (at == 0 || rTAt < at || rTAt >= at + <usize>rBodyLen) {
    rActive = false;
    fail(E_INTERNAL, "", "pending response buffer moved");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- CHECKPOINT
export let ckOp: u32 = 0, ckO: u32 = 0, ckN: u32 = 0, ckHasN: bool = false;
export let ckD: usize = 0, ckDLen: u32 = 0, ckHasD: bool = false;

/** Reads {rule?, op, o, n, d}; false with the error set. */
export function readCheckpoint(): bool {
  ckOp = 0xffffffff; ckO = 0; ckN = 0; ckHasN = false; ckD = 0; ckDLen = 0; ckHasD = false;
  const n = mpReadMap();
  for (let i = 0; i < n; i++) {
    if (!readKey()) return false;
    if (isRuleKey()) continue;
    if (mpStrIs("op")) { if (!mpReadU32(4)) { fail(E_BAD_FIELD, "op", "must be 0 read, 1 write, 2 save, 3 load or 4 info"); return false; } ckOp = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "o", "must be an unsigned integer"); return false; } ckO = vU32; }
    else if (mpStrIs("n")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "n", "must be an unsigned integer"); return false; } ckN = vU32; ckHasN = true; }
    else if (mpStrIs("d")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "d", "must be a bin"); return false; } ckD = tPtr; ckDLen = tLen; ckHasD = true; }
    else { failKey(E_BAD_FIELD, "unknown field"); return false; }
  }
  if (ckOp == 0xffffffff) { fail(E_BAD_FIELD, "op", "missing"); return false; }
  return true;
}

/** READ: answers bytes [o, o + n) of the blob = hdrLen bytes at hdr (filled by the caller) + the arena. */
export function readBlobChunk(hdr: usize, hdrLen: u32, arena: usize, total: u32): i32 {
  const o = ckO;
  const cnt = ckHasN ? ckN : (o < total ? total - o : 0);
  if (<u64>o + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "n", "offset + count exceeds the checkpoint's % bytes", total);
  if (cnt > 0xffff) return fail(E_BAD_SHAPE, "n", "at most 65535 bytes per request");
  mpWriteMap(3);
  mpWriteStr("size");
  mpWriteUint(total);
  mpWriteStr("o");
  mpWriteUint(o);
  mpWriteStr("d");
  const dst = mpWriteBinReserve(cnt);
  if (dst != 0) {
    for (let i: u32 = 0; i < cnt; i++) {
      const at = o + i;
      store<u8>(dst + <usize>i, at < hdrLen ? load<u8>(hdr + <usize>at) : load<u8>(arena + <usize>(at - hdrLen)));
    }
  }
  return H_DONE;
}

/**
 * SAVE of header (hdrLen bytes at hdr, filled) + arena to storage offset 0: the arena first, the
 * header last (its magic invalidated meanwhile), so a torn save leaves no valid checkpoint behind.
 */
export function saveBlob(hdr: usize, hdrLen: u32, arena: usize, arenaLen: u32): i32 {
  const total = hdrLen + arenaLen;
  const avail = storage_size();
  if (total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes does not fit the board's % bytes of storage", total, avail);
  const magic = load<u32>(hdr);
  store<u32>(hdr, 0xffffffff);
  if (storage_write(0, hdr, 4) != 4) return fail(E_STORAGE, "", "storage write failed");
  if (storage_write(hdrLen, arena, arenaLen) != arenaLen) return fail(E_STORAGE, "", "storage write failed");
  store<u32>(hdr, magic);
  if (storage_write(0, hdr, hdrLen) != hdrLen) return fail(E_STORAGE, "", "storage write failed");
  return H_DONE;
}

/** {size, k}: a blob's size and the updates its state holds (where training resumes). */
export function writeSizeK(size: u32, k: u32): i32 {
  mpWriteMap(2);
  mpWriteStr("size");
  mpWriteUint(size);
  mpWriteStr("k");
  mpWriteUint(k);
  return H_DONE;
}
