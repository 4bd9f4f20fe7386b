// EqProp's protocol handlers (EQPROP.md; PROTOCOL.md §4 "EqProp"): CONFIGURE, WRITE, READ, RUN,
// APPLY, GRADS, CHECKPOINT and RESET on the EqProp kernel's arena (kernel.ts, layout.ts). The
// firmware reaches them through eqpropRule(op, arg), registered in device/firmware/rules.ts; the
// seam's contract (ops, H_DONE/H_PENDING, no allocation) is device/firmware/rule.ts. Every
// request is checked whole (shapes against the configured model, ranges, NaN/Inf) before any
// state changes; nothing allocates.
//
// A RUN is a batch slice: samples, each relaxed free (and nudged) from state 0. One sample's
// relaxation can be long, so RUN does a bounded amount of work per poll, a few relaxation steps
// at a time, through the kernel's phase API in exactly the order eqSample uses. Everything
// mirrors host/rules/eqprop/wasm.ts (constants rounded once to f32, learning rate lr / batch
// size in float64 rounded once, loss summed in float64 sample by sample), so a case through the
// firmware equals `--backend wasm` bit for bit.
import { readCheckpoint, ckOp, ckO, ckD, ckDLen, ckHasD, readBlobChunk } from "../../firmware/model-io";
import {
  mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool, mpReadBin,
  tPtr, tLen, tInt, tBigU, tFloat, T_STR, T_ARRAY, T_INT, T_FLOAT,
  mpWriteMap, mpWriteStr, mpWriteUint, mpWriteBinReserve, mpReserve, mpWritten, ldF32, stF32, stU16, stU32,
} from "../../firmware/msgpack";
import {
  fail, errCode, E_BAD_FIELD, E_BAD_SHAPE, E_BAD_VALUE, E_NO_MEMORY, E_NOT_CONFIGURED, E_UNSUPPORTED,
  E_STORAGE, E_INTERNAL,
} from "../../firmware/errors";
import { readKey, failKey, M_CONFIGURE, M_WRITE, M_READ, M_RUN, M_APPLY, M_GRADS, M_CHECKPOINT } from "../../firmware/dispatcher";
import { H_DONE, H_PENDING, OP_NAME, OP_CONTINUE, OP_RESET, OP_BYTES, OP_CAPS, arenaStart, isRuleKey } from "../../firmware/rule";
import { hFreeRam } from "../../firmware/handlers";
import { crc32c } from "../../firmware/crc32c";
import { storage_size, storage_read, storage_write } from "../../firmware/hal";
import {
  eqSetSize, eqPlan, eqConfigure, eqConstants, eqPtr, eqStride, eqArenaBytes, eqClear, eqApply, eqLoss,
  eqResidual, eqPhaseStart, eqRelax, eqPhaseEnd, eqAccumulate, eqWork,
} from "./kernel";
import { eqSize, EQ_MAX_LAYERS, EQF_SYMMETRIC, EQ_W, EQ_B, EQ_GW, EQ_GB, EQ_LR, EQ_X, EQ_Y } from "./layout";

// ---------------------------------------------------------------- model state
let configured: bool = false;
/** L, the number of state layers (pairs of layers) of the model. */
let L: i32 = 0;
/** Kernel flags (EQF_SYMMETRIC). */
let kflags: i32 = 0;
/** lossReduction "mean": RUN's loss is the batch mean. */
let mean: bool = false;
/** The f32 constants given to eqConstants (kept for CHECKPOINT). */
let cBeta: f32 = 0, cEps: f32 = 0;
let cFree: u32 = 0, cNudged: u32 = 0;
/** APPLYs done since CONFIGURE (CHECKPOINT k: the completed iterations). */
let updates: u32 = 0;
/** Learning rate of each layer pair (float64: APPLY divides it by the batch size before rounding). */
const RATES: usize = memory.data(EQ_MAX_LAYERS * 8, 8);
/** Bit l: the rate of pair l has been set (APPLY lr, or WRITE id ID_LR). */
let rateMask: u32 = 0;
/** The batch since RUN rs / APPLY / RESET: samples run, training samples in the gradient sums, Σ C(s0). */
let bCount: u32 = 0, gCount: u32 = 0;
let bLoss: f64 = 0;

/** Parameter ids: W[l] = 2 l, b[l] = 2 l + 1; then these. */
const ID_LR: u32 = 32;
const ID_RES: u32 = 33;
const STEPS_MAX: u32 = 1000000;

/** The rule's entry: the seam of device/firmware/rule.ts. */
export function eqpropRule(op: i32, arg: u32): i32 {
  switch (op) {
    case M_CONFIGURE: return hConfigure();
    case M_WRITE: return hWrite();
    case M_READ: return hRead();
    case M_RUN: return hRun();
    case M_APPLY: return hApply();
    case M_GRADS: return hGrads();
    case M_CHECKPOINT: return hCheckpoint();
    case OP_NAME: return <i32>changetype<usize>("eqprop");
    case OP_CONTINUE: return hContinue();
    case OP_RESET: return hReset(arg);
    case OP_BYTES: return configured ? <i32>eqArenaBytes() : 0;
    case OP_CAPS: return writeCaps(arg);
  }
  return fail(E_INTERNAL, "", "eqprop: unknown op %", <u32>op);
}

/** HELLO caps of EqProp (the firmware adds its own after them). */
function writeCaps(write: u32): i32 {
  if (write == 0) return 1;
  mpWriteStr("eqprop");
  return H_DONE;
}

@inline function symmetric(): bool { return (kflags & EQF_SYMMETRIC) != 0; }
@inline function allRates(): u32 { return (<u32>1 << <u32>L) - 1; }
@inline function rateAt(l: i32): usize { return RATES + (<usize>l << 3); }
/** A learning rate: finite and > 0 in float64 and once rounded to float32. */
@inline function goodRate(x: f64): bool { return x > 0 && isFinite(<f32>x) && <f32>x > 0; }

/** A new batch: zero the gradient sums and residual maxima, the batch's counts and loss. */
function batchClear(): void {
  eqClear();
  bCount = 0;
  gCount = 0;
  bLoss = 0;
}

// ---------------------------------------------------------------- CONFIGURE
/** Staged layer sizes n0..nL of a CONFIGURE (or a checkpoint header) until the whole request is checked. */
const SIZES: usize = memory.data(EQ_MAX_LAYERS * 4, 4);

function readChoice(field: string, a: string, b: string): i32 {
  if (mpNext() != T_STR) { fail(E_BAD_FIELD, field, "must be a string"); return -1; }
  if (mpStrIs(a)) return 0;
  if (mpStrIs(b)) return 1;
  fail(E_BAD_VALUE, field, "unknown choice");
  return -1;
}

function readSteps(field: string): bool {
  if (!mpReadU32(STEPS_MAX)) { fail(E_BAD_FIELD, field, "must be an unsigned integer <= 1000000"); return false; }
  if (vU32 < 1) { fail(E_BAD_VALUE, field, "must be >= 1 (got 0)"); return false; }
  return true;
}

/** Reads `layers` into SIZES; returns L, or -1 with the error set. */
function readLayers(): i32 {
  if (mpNext() != T_ARRAY || tLen < 2 || tLen > <u32>EQ_MAX_LAYERS) {
    fail(E_BAD_FIELD, "layers", "must be an array of 2..16 layer sizes, input layer first");
    return -1;
  }
  const n = <i32>tLen;
  for (let k = 0; k < n; k++) {
    if (!mpReadU32()) { fail(E_BAD_FIELD, "layers", "layers[%] must be an unsigned integer", <u32>k); return -1; }
    if (vU32 < 1 || vU32 > 65535) { fail(E_BAD_VALUE, "layers", "layers[%] must be in 1..65535 (got %)", <u32>k, vU32); return -1; }
    store<u32>(SIZES + (<usize>k << 2), vU32);
  }
  return n - 1;
}

/**
 * Bytes of the arena for SIZES[0..L] and the flags, after making room for it at arenaStart()
 * (memory grows; nothing else changes); 0 with the error set if it cannot be had.
 */
function reserveArena(L_: i32, f: i32): u32 {
  for (let k = 0; k <= L_; k++) eqSetSize(k, <i32>load<u32>(SIZES + (<usize>k << 2)));
  const bytes = eqPlan(L_, f);
  const base = arenaStart();
  const have: u64 = (<u64>memory.size() << 16) - <u64>base;
  if (bytes == 0) {
    fail(E_NO_MEMORY, "layers", "the model's arena exceeds 4 GiB; board has % bytes free", <u32>have);
    return 0;
  }
  if (<u64>bytes > have) {
    const pages = <i32>((<u64>bytes - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) {
      fail(E_NO_MEMORY, "", "model needs % bytes; board has % bytes free", bytes, <u32>have);
      return 0;
    }
  }
  return bytes;
}

/** Lays out a zeroed arena for SIZES (room already reserved) and sets the model's constants. */
function adopt(L_: i32, f: i32, sym: bool, beta: f32, eps: f32, free: u32, nudged: u32): void {
  eqConfigure(arenaStart(), L_, sym ? EQF_SYMMETRIC : 0);
  L = L_;
  kflags = sym ? EQF_SYMMETRIC : 0;
  mean = (f & CKF_MEAN) != 0;
  cBeta = beta; cEps = eps; cFree = free; cNudged = nudged;
  eqConstants(cBeta, cEps, <i32>cFree, <i32>cNudged);
  updates = 0;
  rateMask = 0;
  memory.fill(RATES, 0, EQ_MAX_LAYERS * 8);
  batchClear();
  restoreNext = 0;
}

function hConfigure(): i32 {
  const n = mpReadMap();
  let L_: i32 = -1, hasBeta = false, beta: f64 = 0, eps: f64 = 0.5, free: u32 = 0, nudged: u32 = 0;
  let sym = false, meanRed = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (isRuleKey()) continue;
    if (mpStrIs("layers")) { L_ = readLayers(); if (L_ < 0) return errCode; }
    else if (mpStrIs("beta")) {
      if (!mpReadNum()) return fail(E_BAD_FIELD, "beta", "must be a number");
      if (!isFinite(<f32>vF64) || <f32>vF64 == 0) return fail(E_BAD_VALUE, "beta", "must be finite and not 0 (as float32)");
      beta = vF64; hasBeta = true;
    }
    else if (mpStrIs("epsilon")) {
      if (!mpReadNum()) return fail(E_BAD_FIELD, "epsilon", "must be a number");
      if (!(<f32>vF64 > 0 && <f32>vF64 <= 1)) return fail(E_BAD_VALUE, "epsilon", "must be in (0, 1]");
      eps = vF64;
    }
    else if (mpStrIs("freeSteps")) { if (!readSteps("freeSteps")) return errCode; free = vU32; }
    else if (mpStrIs("nudgedSteps")) { if (!readSteps("nudgedSteps")) return errCode; nudged = vU32; }
    else if (mpStrIs("nudge")) { const c = readChoice("nudge", "one-sided", "symmetric"); if (c < 0) return errCode; sym = c == 1; }
    else if (mpStrIs("lossReduction")) { const c = readChoice("lossReduction", "sum", "mean"); if (c < 0) return errCode; meanRed = c == 1; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (L_ < 0) return fail(E_BAD_FIELD, "layers", "missing");
  if (!hasBeta) return fail(E_BAD_FIELD, "beta", "missing");
  if (free == 0) return fail(E_BAD_FIELD, "freeSteps", "missing");
  if (nudged == 0) return fail(E_BAD_FIELD, "nudgedSteps", "missing");
  const f = (sym ? CKF_SYMMETRIC : 0) | (meanRed ? CKF_MEAN : 0);
  if (reserveArena(L_, sym ? EQF_SYMMETRIC : 0) == 0) return errCode;
  // the constants rounded once to f32, as the wasm driver's eqConstants call does
  adopt(L_, f, sym, <f32>beta, <f32>eps, free, nudged);
  configured = true;
  mpWriteMap(2);
  mpWriteStr("bytes");
  mpWriteUint(eqArenaBytes());
  mpWriteStr("ram");
  mpWriteUint(hFreeRam());
  return H_DONE;
}

// ---------------------------------------------------------------- WRITE / READ / GRADS
// W[l] ([n(l+1)][n(l)], row-major as in the case) sits in the arena with rows padded to
// eqStride(l); b[l] is contiguous. Padding is never written (it stays 0).

/** Elements of id p: parameters (grads false) or gradient sums (grads true); -1 if unknown. */
function idCount(p: u32, grads: bool): i32 {
  if (p < <u32>(2 * L)) {
    const l = <i32>(p >> 1);
    return (p & 1) == 0 ? eqSize(l + 1) * eqSize(l) : eqSize(l + 1);
  }
  if (p == ID_LR && !grads) return L;
  if (p == ID_RES && grads) return symmetric() ? 3 : 2;
  return -1;
}

/** Address of element e of W[l] / b[l] (p < 2L) or of its gradient sum. */
function idAddr(p: u32, grads: bool, e: i32): usize {
  const l = <i32>(p >> 1);
  if ((p & 1) != 0) return eqPtr(grads ? EQ_GB : EQ_B, l) + (<usize>e << 2);
  const nPre = eqSize(l);
  return eqPtr(grads ? EQ_GW : EQ_W, l) + (<usize>((e / nPre) * eqStride(l) + e % nPre) << 2);
}

let fP: u32 = 0, fO: u32 = 0, fN: u32 = 0, fHasN: bool = false;
let fD: usize = 0, fDLen: u32 = 0, fHasD: bool = false;

/** Reads {p, o, n?, d?}; returns false with the error set. */
function readPOND(allowN: bool, allowD: bool): bool {
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

function hWrite(): i32 {
  if (!readPOND(false, true)) return errCode;
  if (!fHasD) return fail(E_BAD_FIELD, "d", "missing");
  if (!configured) return fail(E_NOT_CONFIGURED, "", "WRITE before CONFIGURE");
  const total = idCount(fP, false);
  if (total < 0) return fail(E_BAD_VALUE, "p", "unknown parameter id % (W[l] = 2l, b[l] = 2l+1, lr = 32)", fP);
  if ((fDLen & 3) != 0) return fail(E_BAD_SHAPE, "d", "% bytes is not a whole number of f32", fDLen);
  const cnt = fDLen >> 2;
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "d", "offset + count exceeds the parameter's % elements", <u32>total);
  for (let i: u32 = 0; i < cnt; i++) {
    const v = ldF32(fD + (<usize>i << 2)); // payload: any alignment
    if (!isFinite(v)) return fail(E_BAD_VALUE, "d", "element % is NaN or infinite", fO + i);
    if (fP == ID_LR && !(v > 0)) return fail(E_BAD_VALUE, "d", "learning rate % must be > 0", fO + i);
  }
  for (let i: u32 = 0; i < cnt; i++) {
    const v = ldF32(fD + (<usize>i << 2));
    const e = fO + i;
    if (fP == ID_LR) {
      store<f64>(rateAt(<i32>e), <f64>v);
      rateMask |= <u32>1 << e;
    } else store<f32>(idAddr(fP, false, <i32>e), v);
  }
  mpWriteMap(2);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("n");
  mpWriteUint(cnt);
  return H_DONE;
}

/** Element e of id p as READ/GRADS return it. */
function idValue(p: u32, grads: bool, e: i32): f32 {
  if (p == ID_LR) return <f32>load<f64>(rateAt(e));
  if (p == ID_RES) return eqResidual(e);
  return load<f32>(idAddr(p, grads, e));
}

function readOut(grads: bool): i32 {
  const total = idCount(fP, grads);
  if (total < 0) {
    if (grads && fP == ID_LR) return fail(E_UNSUPPORTED, "p", "id % (learning rates) has no gradient", fP);
    return fail(E_BAD_VALUE, "p", "unknown id %", fP);
  }
  const cnt: u32 = fHasN ? fN : (fO < <u32>total ? <u32>total - fO : 0);
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "n", "offset + count exceeds the % elements", <u32>total);
  if (<u64>cnt * 4 > 0xffff) return fail(E_BAD_SHAPE, "n", "at most 16383 elements per request");
  mpWriteMap(3);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("o");
  mpWriteUint(fO);
  mpWriteStr("d");
  const dst = mpWriteBinReserve(cnt << 2);
  if (dst != 0) {
    for (let i: u32 = 0; i < cnt; i++) stF32(dst + (<usize>i << 2), idValue(fP, grads, <i32>(fO + i)));
  }
  return H_DONE;
}

function hRead(): i32 {
  if (!readPOND(true, false)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "READ before CONFIGURE");
  return readOut(false);
}

function hGrads(): i32 {
  if (!readPOND(true, false)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "GRADS before CONFIGURE");
  return readOut(true);
}

// ---------------------------------------------------------------- RUN
function hRun(): i32 {
  const n = mpReadMap();
  let cnt: u32 = 0, xPtr: usize = 0, xLen: u32 = 0, hasX = false, tgPtr: usize = 0, tgLen: u32 = 0, hasTg = false;
  let rs = false, learn = true, res = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("n")) { if (!mpReadU32(65535)) return fail(E_BAD_FIELD, "n", "must be an unsigned integer <= 65535"); cnt = vU32; }
    else if (mpStrIs("x")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "x", "must be a bin of f32"); xPtr = tPtr; xLen = tLen; hasX = true; }
    else if (mpStrIs("tg")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "tg", "must be a bin of f32"); tgPtr = tPtr; tgLen = tLen; hasTg = true; }
    else if (mpStrIs("rs")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "rs", "must be a bool"); rs = vBool; }
    else if (mpStrIs("learn")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "learn", "must be a bool"); learn = vBool; }
    else if (mpStrIs("res")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "res", "must be a bool"); res = vBool; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "RUN before CONFIGURE");
  if (cnt == 0) return fail(E_BAD_FIELD, "n", "missing or 0");
  if (!hasX) return fail(E_BAD_FIELD, "x", "missing");
  if (!hasTg) return fail(E_BAD_FIELD, "tg", "missing (the loss and the nudge need the targets)");
  const nIn = <u32>eqSize(0), nOut = <u32>eqSize(L);
  if (<u64>xLen != <u64>cnt * <u64>nIn * 4) return fail(E_BAD_SHAPE, "x", "must be n x layers[0] f32 (layers[0] = %, got % bytes)", nIn, xLen);
  if (<u64>tgLen != <u64>cnt * <u64>nOut * 4) return fail(E_BAD_SHAPE, "tg", "must be n x layers[L] f32 (layers[L] = %, got % bytes)", nOut, tgLen);
  for (let i: u32 = 0; i < cnt * nIn; i++) {
    const v = ldF32(xPtr + (<usize>i << 2)); // payloads: any alignment
    if (!(v >= 0 && v <= 1)) return fail(E_BAD_VALUE, "x", "sample %, input % is outside [0, 1] (inputs enter as rho(x) = x)", i / nIn, i % nIn);
  }
  for (let i: u32 = 0; i < cnt * nOut; i++) {
    if (!isFinite(ldF32(tgPtr + (<usize>i << 2)))) return fail(E_BAD_VALUE, "tg", "sample %, target % is NaN or infinite", i / nOut, i % nOut);
  }

  // response: n, t (samples since the batch started), pred, loss, res; t, loss and res are
  // known only at the end: fixed-size slots (uint 32, float 64) are reserved for them
  mpWriteMap(res ? 5 : 4);
  mpWriteStr("n");
  mpWriteUint(cnt);
  mpWriteStr("t");
  rTAt = mpReserve(5);
  mpWriteStr("pred");
  rPredAt = mpWriteBinReserve(cnt * 2);
  mpWriteStr("loss");
  rLossAt = mpReserve(9);
  rResAt = 0;
  if (res) {
    mpWriteStr("res");
    rResAt = mpWriteBinReserve(symmetric() ? 12 : 8);
  }
  if (rTAt == 0 || rPredAt == 0 || rLossAt == 0 || (res && rResAt == 0)) {
    return H_DONE; // the writer overflowed: the dispatcher answers TOO_LARGE (nothing was run)
  }
  if (rs) batchClear();
  rBodyLen = mpWritten();
  rN = cnt; rI = 0; rX = xPtr; rTg = tgPtr; rLearn = learn; rRes = res; rStage = ST_START;
  rActive = true;
  return runSome();
}

// ---- the RUN in progress (pointers into the request frame, which the dispatcher keeps) ----
const ST_START: i32 = 0; // load sample rI, start the free phase
const ST_RELAX: i32 = 1; // rLeft steps of phase rPh to go
const ST_END: i32 = 2; //   end phase rPh, start the next one
const ST_ACC: i32 = 3; //   add the sample's estimate to the sums
let rActive: bool = false;
let rN: u32 = 0, rI: u32 = 0, rStage: i32 = 0, rPh: i32 = 0, rLeft: u32 = 0;
let rX: usize = 0, rTg: usize = 0, rLearn: bool = false, rRes: bool = false;
let rTAt: usize = 0, rPredAt: usize = 0, rLossAt: usize = 0, rResAt: usize = 0;
let rBodyLen: u32 = 0;

/** Multiply-adds per poll (at least one relaxation step): ~15 ms on a Cortex-M4 at 180 MHz. */
const WORK_PER_POLL: u64 = 1 << 18;

/** Starts phase `ph` of the current sample: `steps` relaxation steps follow. */
@inline function startPhase(ph: i32, steps: u32): void {
  eqPhaseStart(ph);
  rPh = ph;
  rLeft = steps;
  rStage = ST_RELAX;
}

/** Advances the RUN by a bounded amount of work; finishes the response after the last sample. */
function runSome(): i32 {
  const step: u64 = <u64>max<u32>(1, eqWork(0));
  const nIn = eqSize(0), nOut = eqSize(L);
  let budget: u64 = WORK_PER_POLL;
  do {
    let cost: u64 = step;
    if (rStage == ST_START) {
      memory.copy(eqPtr(EQ_X, 0), rX + <usize>(rI * <u32>nIn) * 4, <usize>nIn << 2);
      memory.copy(eqPtr(EQ_Y, 0), rTg + <usize>(rI * <u32>nOut) * 4, <usize>nOut << 2);
      startPhase(0, cFree);
      cost = <u64>eqWork(1) + 1;
    } else if (rStage == ST_RELAX) {
      const fit = budget / step;
      const k: u32 = fit >= <u64>rLeft ? rLeft : fit > 0 ? <u32>fit : 1;
      eqRelax(rPh, <i32>k);
      rLeft -= k;
      cost = <u64>k * step;
      if (rLeft == 0) rStage = ST_END;
    } else if (rStage == ST_END) {
      const pred = eqPhaseEnd(rPh, rRes);
      if (!rRes) cost = 1;
      if (rPh == 0) {
        stU16(rPredAt + (<usize>rI << 1), <u32>pred); // the response buffer: any alignment
        bLoss += eqLoss();
        bCount++;
        if (rLearn) startPhase(1, cNudged);
        else {
          rI++;
          rStage = ST_START;
        }
      } else if (rPh == 1 && symmetric()) startPhase(2, cNudged);
      else rStage = ST_ACC;
    } else {
      eqAccumulate();
      gCount++;
      cost = <u64>eqWork(2) + 1;
      rI++;
      rStage = ST_START;
    }
    budget = budget > cost ? budget - cost : 0;
  } while (rI < rN && budget > 0);
  if (rI < rN) return H_PENDING;
  rActive = false;
  // t as uint32 (0xce + big-endian) and loss as float64 (0xcb + big-endian): valid MessagePack
  store<u8>(rTAt, 0xce);
  stU32(rTAt + 1, bswap<u32>(bCount));
  store<u8>(rLossAt, 0xcb);
  const loss = reinterpret<u64>(mean ? bLoss / <f64>bCount : bLoss);
  stU32(rLossAt + 1, bswap<u32>(<u32>(loss >> 32)));
  stU32(rLossAt + 5, bswap<u32>(<u32>loss));
  if (rResAt != 0) {
    const k = symmetric() ? 3 : 2;
    for (let i = 0; i < k; i++) stF32(rResAt + (<usize>i << 2), eqResidual(i));
  }
  return H_DONE;
}

/** Called from each poll() while a RUN is pending (the writer is at the body start). */
function hContinue(): i32 {
  if (!rActive) return fail(E_INTERNAL, "", "no pending request");
  // the response body written so far is still in the buffer: move the writer past it
  const at = mpReserve(rBodyLen);
  if (at == 0 || rTAt < at || rTAt >= at + <usize>rBodyLen) {
    rActive = false;
    return fail(E_INTERNAL, "", "pending response buffer moved");
  }
  return runSome();
}

// ---------------------------------------------------------------- APPLY
/** Rates of an APPLY, staged until the request is checked. */
const LR_STAGE: usize = memory.data(EQ_MAX_LAYERS * 8, 8);

/** Reads `lr`: one number for every pair, or an array of one per pair, into LR_STAGE; false with the error set. */
function readRates(): bool {
  const k = mpNext();
  if (k == T_INT || k == T_FLOAT) {
    const v = k == T_INT ? (tBigU ? <f64><u64>tInt : <f64>tInt) : tFloat;
    if (!goodRate(v)) { fail(E_BAD_VALUE, "lr", "must be finite and > 0 (as float32)"); return false; }
    for (let l = 0; l < L; l++) store<f64>(LR_STAGE + (<usize>l << 3), v);
    return true;
  }
  if (k != T_ARRAY) { fail(E_BAD_FIELD, "lr", "must be a number or an array of one number per layer pair"); return false; }
  if (tLen != <u32>L) { fail(E_BAD_SHAPE, "lr", "must hold one rate per layer pair (%), got %", <u32>L, tLen); return false; }
  for (let l = 0; l < L; l++) {
    if (!mpReadNum()) { fail(E_BAD_FIELD, "lr", "lr[%] must be a number", <u32>l); return false; }
    if (!goodRate(vF64)) { fail(E_BAD_VALUE, "lr", "lr[%] must be finite and > 0 (as float32)", <u32>l); return false; }
    store<f64>(LR_STAGE + (<usize>l << 3), vF64);
  }
  return true;
}

function hApply(): i32 {
  const n = mpReadMap();
  let hasLr = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("lr")) {
      if (!configured) return fail(E_NOT_CONFIGURED, "", "APPLY before CONFIGURE");
      if (!readRates()) return errCode;
      hasLr = true;
    }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "APPLY before CONFIGURE");
  if (!hasLr && rateMask != allRates()) return fail(E_BAD_FIELD, "lr", "missing (send lr, or WRITE the rates, id 32, first)");
  if (gCount == 0) return fail(E_BAD_VALUE, "", "no training sample since the batch started: nothing to apply");
  if (hasLr) {
    memory.copy(RATES, LR_STAGE, <usize>L << 3);
    rateMask = allRates();
  }
  // the batch mean: rate / samples in float64, rounded once (as the wasm driver writes it)
  const lr = eqPtr(EQ_LR, 0);
  for (let l = 0; l < L; l++) store<f32>(lr + (<usize>l << 2), <f32>(load<f64>(rateAt(l)) / <f64>gCount));
  eqApply();
  batchClear();
  updates++;
  mpWriteMap(1);
  mpWriteStr("k");
  mpWriteUint(updates);
  return H_DONE;
}

// ---------------------------------------------------------------- CHECKPOINT
// Blob = 256-byte header + the kernel's whole arena (W, b, gradient sums, rates, sample, states).
//   0 'EQCK'  4 version 1  8 total bytes  12 CRC-32C of bytes 16..end (header rest + arena)
//   16 L  20 flags (1 symmetric, 2 lossReduction mean)  24 freeSteps  28 nudgedSteps
//   32 beta  36 epsilon (f32)  40 updates  44 rate mask (bit l: lr[l] set)
//   48 samples in the batch  52 training samples in the gradient sums  56 batch loss (f64)
//   64 n_0..n_15 (u32, 0 past L)  128 lr[0..15] (f64)
// The kernel's residual maxima are not part of it (they restart at 0).
const CK_HDR: u32 = 256;
const CK_MAGIC: u32 = 0x4b435145; // "EQCK" little-endian
const CK_VERSION: u32 = 1;
const CKF_SYMMETRIC: i32 = 1;
const CKF_MEAN: i32 = 2;
const ckHdr: usize = memory.data(256, 16);
/** Scratch for checking a stored checkpoint's CRC before it replaces the model. */
const ckBuf: usize = memory.data(256, 16);
let restoreNext: u32 = 0;
let restoreTotal: u32 = 0;

function ckSize(): u32 {
  return CK_HDR + eqArenaBytes();
}

@inline function hU32(o: u32): u32 { return load<u32>(ckHdr + <usize>o); }

function ckFillHeader(): void {
  memory.fill(ckHdr, 0, CK_HDR);
  store<u32>(ckHdr, CK_MAGIC);
  store<u32>(ckHdr + 4, CK_VERSION);
  store<u32>(ckHdr + 8, ckSize());
  store<u32>(ckHdr + 16, <u32>L);
  store<u32>(ckHdr + 20, <u32>((symmetric() ? CKF_SYMMETRIC : 0) | (mean ? CKF_MEAN : 0)));
  store<u32>(ckHdr + 24, cFree);
  store<u32>(ckHdr + 28, cNudged);
  store<f32>(ckHdr + 32, cBeta);
  store<f32>(ckHdr + 36, cEps);
  store<u32>(ckHdr + 40, updates);
  store<u32>(ckHdr + 44, rateMask);
  store<u32>(ckHdr + 48, bCount);
  store<u32>(ckHdr + 52, gCount);
  store<f64>(ckHdr + 56, bLoss);
  for (let k = 0; k <= L; k++) store<u32>(ckHdr + 64 + (<usize>k << 2), <u32>eqSize(k));
  memory.copy(ckHdr + 128, RATES, EQ_MAX_LAYERS * 8);
  const c = crc32c(ckHdr + 16, CK_HDR - 16);
  store<u32>(ckHdr + 12, crc32c(arenaStart(), eqArenaBytes(), c));
}

/**
 * Checks the header in ckHdr whole (magic, version, sizes, constants, counters, rates, total
 * against its model and against `avail`) and makes room for its arena; nothing else changes.
 * Returns L, or -1 with the error set.
 */
function ckCheckHeader(avail: u64): i32 {
  if (hU32(0) != CK_MAGIC) { fail(E_STORAGE, "", "not an EqProp checkpoint (bad magic)"); return -1; }
  if (hU32(4) != CK_VERSION) { fail(E_STORAGE, "", "checkpoint version % is not supported", hU32(4)); return -1; }
  const L_ = <i32>hU32(16), f = <i32>hU32(20);
  let ok = L_ >= 1 && L_ < EQ_MAX_LAYERS && (f & ~3) == 0;
  for (let k = 0; ok && k < EQ_MAX_LAYERS; k++) {
    const nk = hU32(64 + (<u32>k << 2));
    ok = k <= L_ ? nk >= 1 && nk <= 65535 : nk == 0;
    store<u32>(SIZES + (<usize>k << 2), nk);
  }
  const beta = load<f32>(ckHdr + 32), eps = load<f32>(ckHdr + 36);
  const free = hU32(24), nudged = hU32(28), mask = hU32(44);
  ok = ok && isFinite(beta) && beta != 0 && eps > 0 && eps <= 1;
  ok = ok && free >= 1 && free <= STEPS_MAX && nudged >= 1 && nudged <= STEPS_MAX;
  ok = ok && hU32(52) <= hU32(48) && isFinite(load<f64>(ckHdr + 56)) && load<f64>(ckHdr + 56) >= 0;
  ok = ok && (mask & ~((<u32>1 << <u32>L_) - 1)) == 0;
  for (let l = 0; ok && l < EQ_MAX_LAYERS; l++) {
    const r = load<f64>(ckHdr + 128 + (<usize>l << 3));
    ok = ((mask >> <u32>l) & 1) != 0 ? goodRate(r) : r == 0;
  }
  if (!ok) { fail(E_STORAGE, "", "checkpoint header is corrupt"); return -1; }
  const total = hU32(8);
  if (<u64>total > avail) { fail(E_STORAGE, "", "checkpoint of % bytes is truncated (% available)", total, <u32>avail); return -1; }
  for (let k = 0; k <= L_; k++) eqSetSize(k, <i32>load<u32>(SIZES + (<usize>k << 2)));
  const want = eqPlan(L_, (f & CKF_SYMMETRIC) != 0 ? EQF_SYMMETRIC : 0);
  if (want == 0 || <u64>total != <u64>CK_HDR + <u64>want) {
    fail(E_STORAGE, "", "checkpoint size % does not match its model (% bytes)", total, CK_HDR + want);
    return -1;
  }
  if (reserveArena(L_, (f & CKF_SYMMETRIC) != 0 ? EQF_SYMMETRIC : 0) == 0) return -1;
  return L_;
}

/** Replaces the model by the one ckHdr describes (arena zeroed; not usable until ckVerify). */
function ckAdopt(L_: i32): void {
  const f = <i32>hU32(20);
  adopt(L_, f, (f & CKF_SYMMETRIC) != 0, load<f32>(ckHdr + 32), load<f32>(ckHdr + 36), hU32(24), hU32(28));
  configured = false;
}

/** True when W, b and their sums are finite and their padding is 0. */
function arenaSane(): bool {
  for (let l = 0; l < L; l++) {
    const stride = eqStride(l), nPre = eqSize(l), nPost = eqSize(l + 1);
    for (let f = 0; f < 2; f++) {
      const w = eqPtr(f == 0 ? EQ_W : EQ_GW, l), b = eqPtr(f == 0 ? EQ_B : EQ_GB, l);
      for (let i = 0; i < nPost; i++) {
        for (let j = 0; j < stride; j++) {
          const v = load<f32>(w + (<usize>(i * stride + j) << 2));
          if (j < nPre ? !isFinite(v) : v != 0) return false;
        }
      }
      for (let i = 0; i < eqStride(l + 1); i++) {
        const v = load<f32>(b + (<usize>i << 2));
        if (i < nPost ? !isFinite(v) : v != 0) return false;
      }
    }
  }
  return true;
}

/** After the arena is in place: the CRC and the values; only then is the model usable. */
function ckVerify(): i32 {
  const c = crc32c(ckHdr + 16, CK_HDR - 16);
  if (crc32c(arenaStart(), eqArenaBytes(), c) != hU32(12)) {
    configured = false;
    return fail(E_STORAGE, "", "checkpoint CRC mismatch: the model was discarded");
  }
  if (!arenaSane()) {
    configured = false;
    return fail(E_STORAGE, "", "checkpoint holds NaN, infinity or non-zero padding: the model was discarded");
  }
  updates = hU32(40);
  rateMask = hU32(44);
  memory.copy(RATES, ckHdr + 128, EQ_MAX_LAYERS * 8);
  bCount = hU32(48);
  gCount = hU32(52);
  bLoss = load<f64>(ckHdr + 56);
  configured = true;
  return H_DONE;
}

/** {size, k}: the blob size and the number of updates it holds (where training resumes). */
function ckSizeK(): i32 {
  mpWriteMap(2);
  mpWriteStr("size");
  mpWriteUint(ckSize());
  mpWriteStr("k");
  mpWriteUint(updates);
  return H_DONE;
}

/** CRC of the stored checkpoint whose header is in ckHdr (read through ckBuf); false on a read failure. */
function storedCrcOk(total: u32): bool {
  let c = crc32c(ckHdr + 16, CK_HDR - 16);
  for (let o: u32 = CK_HDR; o < total; o += 256) {
    const k: u32 = total - o < 256 ? total - o : 256;
    if (storage_read(o, ckBuf, k) != k) return false;
    c = crc32c(ckBuf, k, c);
  }
  return c == hU32(12);
}

function hCheckpoint(): i32 {
  if (!readCheckpoint()) return errCode;
  const op = ckOp;
  let o = ckO, dPtr = ckD, dLen = ckDLen;
  const hasD = ckHasD;

  if (op == 1) { // WRITE: sequential chunks; the first carries the header
    if (!hasD) return fail(E_BAD_FIELD, "d", "missing");
    const got = dLen;
    if (o == 0) {
      if (dLen < CK_HDR) return fail(E_BAD_SHAPE, "d", "the first chunk must hold the % byte header", CK_HDR);
      memory.copy(ckHdr, dPtr, CK_HDR);
      const L_ = ckCheckHeader(0xffffffff);
      if (L_ < 0) return errCode; // a foreign or damaged header: the model in use stays
      ckAdopt(L_);
      restoreTotal = ckSize();
      restoreNext = CK_HDR;
      dPtr += CK_HDR;
      dLen -= CK_HDR;
      o = CK_HDR;
    } else if (restoreNext == 0 || o != restoreNext) {
      return fail(E_BAD_VALUE, "o", "chunks must be written in order (expected offset %)", restoreNext);
    }
    if (<u64>o + <u64>dLen > <u64>restoreTotal) return fail(E_BAD_SHAPE, "d", "chunk runs past the checkpoint's % bytes", restoreTotal);
    memory.copy(arenaStart() + <usize>(o - CK_HDR), dPtr, dLen);
    restoreNext = o + dLen;
    if (restoreNext == restoreTotal) {
      restoreNext = 0;
      const r = ckVerify();
      if (r != H_DONE) return r;
    }
    mpWriteMap(2);
    mpWriteStr("size");
    mpWriteUint(restoreTotal);
    mpWriteStr("n");
    mpWriteUint(got);
    return H_DONE;
  }
  if (op == 3) { // LOAD from storage: header and CRC checked before the model in use is replaced
    const avail = storage_size();
    if (avail < CK_HDR) return fail(E_STORAGE, "", "the board has no storage for checkpoints (% bytes)", avail);
    if (storage_read(0, ckHdr, CK_HDR) != CK_HDR) return fail(E_STORAGE, "", "storage read failed");
    const L_ = ckCheckHeader(<u64>avail);
    if (L_ < 0) return errCode;
    if (!storedCrcOk(hU32(8))) return fail(E_STORAGE, "", "stored checkpoint CRC mismatch (or read failure): the model in use stays");
    ckAdopt(L_);
    if (storage_read(CK_HDR, arenaStart(), eqArenaBytes()) != eqArenaBytes()) return fail(E_STORAGE, "", "storage read failed");
    const v = ckVerify();
    if (v != H_DONE) return v;
    return ckSizeK();
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "CHECKPOINT before CONFIGURE");
  if (op == 4) return ckSizeK();
  if (op == 2) { // SAVE to storage
    const total = ckSize();
    const avail = storage_size();
    if (total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes does not fit the board's % bytes of storage", total, avail);
    ckFillHeader();
    // arena first, header last: a torn save leaves no valid header behind
    store<u32>(ckHdr, 0xffffffff);
    if (storage_write(0, ckHdr, 4) != 4) return fail(E_STORAGE, "", "storage write failed");
    if (storage_write(CK_HDR, arenaStart(), eqArenaBytes()) != eqArenaBytes()) return fail(E_STORAGE, "", "storage write failed");
    store<u32>(ckHdr, CK_MAGIC);
    if (storage_write(0, ckHdr, CK_HDR) != CK_HDR) return fail(E_STORAGE, "", "storage write failed");
    return ckSizeK();
  }
  // op 0: READ a chunk
  if (ckO < CK_HDR) ckFillHeader();
  return readBlobChunk(ckHdr, CK_HDR, arenaStart(), ckSize());
}

// ---------------------------------------------------------------- RESET
/** RESET: bits 1|2 a new batch (gradient sums, residual maxima, batch loss and count), 4 nothing (SGD keeps no state), 8 forget the model. */
function hReset(k: u32): i32 {
  if ((k & 8) != 0) {
    configured = false;
    restoreNext = 0;
    return H_DONE;
  }
  if (configured && (k & 3) != 0) batchClear();
  return H_DONE;
}
