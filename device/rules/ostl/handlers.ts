// OSTL's protocol handlers (../shared/spec/OSTL.md; PROTOCOL.md §7 "OSTL"): CONFIGURE a layer
// stack, WRITE/READ its parameters, RUN trials, read GRADS, APPLY gd/Adam, CHECKPOINT and RESET,
// on the OSTL kernel's self-describing arena (./kernel.ts, ./layout.ts) placed at arenaStart().
// The firmware reaches them through ostlRule(op, arg), registered in device/firmware/rules.ts;
// the seam's contract (ops, H_DONE/H_PENDING, no allocation) is device/firmware/rule.ts, and the
// model to follow is e-prop's handlers (../eprop/handlers.ts). Every request is checked whole
// before anything changes; nothing here allocates (staging areas are memory.data).
//
// Everything mirrors host/rules/ostl/wasm.ts (OstlDevice: same flags, the host's float64
// constants rounded once to f32, the same kernel calls in the same order), so a case run through
// the firmware equals the `wasm` backend (scalar build) bit for bit.
import {
  mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool, mpReadBin,
  tPtr, tLen, tInt, tFloat, T_ARRAY, T_STR, T_BIN, T_INT, T_FLOAT,
  mpWriteMap, mpWriteStr, mpWriteUint, mpWriteF64, mpWriteBinReserve, mpReserve, mpWritten,
} from "../../firmware/msgpack";
import {
  fail, errCode, E_BAD_FIELD, E_BAD_SHAPE, E_BAD_VALUE, E_NO_MEMORY, E_NOT_CONFIGURED, E_STORAGE, E_INTERNAL,
} from "../../firmware/errors";
import { readKey, failKey, M_CONFIGURE, M_WRITE, M_READ, M_RUN, M_APPLY, M_GRADS, M_CHECKPOINT } from "../../firmware/dispatcher";
import { H_DONE, H_PENDING, OP_NAME, OP_CONTINUE, OP_RESET, OP_BYTES, OP_CAPS, arenaStart, isRuleKey } from "../../firmware/rule";
import { hFreeRam } from "../../firmware/handlers";
import { crc32c } from "../../firmware/crc32c";
import { storage_size, storage_read, storage_write } from "../../firmware/hal";
import {
  osBegin, osLayer, osPlan, osConfigure, osConstants, osReadout, osPtr, osStride, osReset, osForward, osStep,
  osFinish, osApplyGd, osApplyAdam, osResetOptimizer, osUpdates, osSteps, osArenaBytes, osAttach, osValidate,
} from "./kernel";
import {
  MAXL, OF_RESETGRAD, HEADER_BYTES, O_W, O_BETA, O_G, O_WOUT, O_GOUT, O_BOUT, O_GB, O_ACT, O_TARGET, O_Y, O_Z,
  cfgLayers, cfgNIn, cfgNOut, cfgModelFlags, layerN, layerFlags,
} from "./layout";
import { F_ALIF, F_CE, F_ADAM, F_TRAINBIAS, F_MEAN } from "../../kernels/layout";

// ---------------------------------------------------------------- model state
// Sizes and flags live in the arena header (the kernel's layout module reads them back); the
// handler keeps only what the arena does not: whether it holds a model, Adam's step index and
// where the current trial stands.
let configured: bool = false;
/** Adam steps applied so far (the n of the bias correction). */
let adamStep: u32 = 0;
/** The trial: no step since it began (rs, CONFIGURE, RESET), steps run, or ended by RUN `end`. */
const TRIAL_NEW: u32 = 0, TRIAL_OPEN: u32 = 1, TRIAL_ENDED: u32 = 2;
let trial: u32 = TRIAL_NEW;

/** Parameter ids (PROTOCOL.md §7): layer l's W is 2l, its b 2l + 1; the readout's wOut and bOut; beta^l. */
const ID_WOUT: u32 = 32;
const ID_BOUT: u32 = 33;
const ID_BETA: u32 = 48;

/** The rule's entry: the seam of device/firmware/rule.ts. */
export function ostlRule(op: i32, arg: u32): i32 {
  switch (op) {
    case M_CONFIGURE: return hConfigure();
    case M_WRITE: return hWrite();
    case M_READ: return hRead(false);
    case M_GRADS: return hRead(true);
    case M_RUN: return hRun();
    case M_APPLY: return hApply();
    case M_CHECKPOINT: return hCheckpoint();
    case OP_NAME: return <i32>changetype<usize>("ostl");
    case OP_CONTINUE: return hContinue();
    case OP_RESET: return hReset(arg);
    case OP_BYTES: return configured ? <i32>osArenaBytes() : 0;
    case OP_CAPS: return 0; // no capability of its own: HELLO `rules` names the rule
  }
  return fail(E_INTERNAL, "", "ostl: unknown op %", <u32>op);
}

function nLayers(): i32 { return cfgLayers(); }
/** Inputs of layer l (nIn, or the layer below's size). */
function nPrev(l: i32): i32 { return l == 0 ? cfgNIn() : layerN(l - 1); }
function nTop(): i32 { return layerN(cfgLayers() - 1); }
/** Neurons of every layer together (the width of RUN's `z` and `sc`). */
function nAll(): i32 {
  let n = 0;
  for (let l = 0; l < cfgLayers(); l++) n += layerN(l);
  return n;
}

// ---------------------------------------------------------------- field readers
/** A number into vF64, finite and above `min` (or at least `min` if `orEqual`); false with the error set. */
function readNum(field: string, min: f64, orEqual: bool, l: i32 = -1): bool {
  if (!mpReadNum()) { fail(E_BAD_FIELD, field, l < 0 ? "must be a number" : "layer %: must be a number", <u32>l); return false; }
  if (!isFinite(vF64) || vF64 < min || (!orEqual && vF64 == min)) {
    fail(E_BAD_VALUE, field, l < 0 ? (orEqual ? "must be finite and >= 0" : "must be finite and > 0") : (orEqual ? "layer %: must be finite and >= 0" : "layer %: must be finite and > 0"), <u32>l);
    return false;
  }
  return true;
}
/** One of two strings: 0 or 1, or -1 with the error set. */
function readChoice(field: string, a: string, b: string): i32 {
  if (mpNext() != T_STR) { fail(E_BAD_FIELD, field, "must be a string"); return -1; }
  if (mpStrIs(a)) return 0;
  if (mpStrIs(b)) return 1;
  fail(E_BAD_VALUE, field, "unknown choice");
  return -1;
}
function readBool(field: string): bool {
  if (!mpReadBool()) { fail(E_BAD_FIELD, field, "must be a bool"); return false; }
  return true;
}
function f32At(p: usize, i: u32): f32 { return load<f32>(p + (<usize>i << 2)); }
/** Index of the first f32 of [p, p + 4n) that is NaN, infinite or (with `nonNeg`) negative; -1 if none. */
function firstBad(p: usize, n: u32, nonNeg: bool): i32 {
  for (let i: u32 = 0; i < n; i++) {
    const x = f32At(p, i);
    if (!isFinite(x) || (nonNeg && x < 0)) return <i32>i;
  }
  return -1;
}

// ---------------------------------------------------------------- CONFIGURE
// The layers as read, staged (f64 slots per layer) until the whole request has been checked.
const SL_N = 0, SL_ALIF = 1, SL_TAUMEM = 2, SL_TAUADAPT = 3, SL_ALPHA = 4, SL_RHO = 5, SL_VTH = 6, SL_GAMMA = 7;
const SL_BETA = 8, SL_BETAPTR = 9, SL_BETASET = 10, SLOTS = 11;
const stage: usize = memory.data(MAXL * SLOTS * 8, 8);
function st(l: i32, s: i32): f64 { return load<f64>(stage + ((<usize>(l * SLOTS + s)) << 3)); }
function setSt(l: i32, s: i32, x: f64): void { store<f64>(stage + ((<usize>(l * SLOTS + s)) << 3), x); }

/** Reads layer l's map (the reader is at its header). */
function readLayer(l: i32): i32 {
  const m = mpReadMap();
  if (m < 0) return fail(E_BAD_FIELD, "layers", "layer %: must be a map {n, neuron, tauMem|alpha, tauAdapt|rho, vTh, gamma, beta}", <u32>l);
  setSt(l, SL_N, 0); setSt(l, SL_ALIF, 0); setSt(l, SL_TAUMEM, 20); setSt(l, SL_TAUADAPT, 200);
  setSt(l, SL_ALPHA, NaN); setSt(l, SL_RHO, NaN); setSt(l, SL_VTH, 1); setSt(l, SL_GAMMA, 0.3);
  setSt(l, SL_BETA, 0); setSt(l, SL_BETAPTR, 0); setSt(l, SL_BETASET, 0);
  for (let i = 0; i < m; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("n")) {
      if (!mpReadU32() || vU32 < 1 || vU32 > 65535) return fail(E_BAD_VALUE, "layers.n", "layer %: must be an integer in 1..65535", <u32>l);
      setSt(l, SL_N, <f64>vU32);
    } else if (mpStrIs("neuron")) {
      const c = readChoice("layers.neuron", "lif", "alif");
      if (c < 0) return errCode;
      setSt(l, SL_ALIF, <f64>c);
    } else if (mpStrIs("tauMem")) { if (!readNum("layers.tauMem", 0, false, l)) return errCode; setSt(l, SL_TAUMEM, vF64); }
    else if (mpStrIs("tauAdapt")) { if (!readNum("layers.tauAdapt", 0, false, l)) return errCode; setSt(l, SL_TAUADAPT, vF64); }
    else if (mpStrIs("alpha")) { if (!readNum("layers.alpha", 0, false, l)) return errCode; setSt(l, SL_ALPHA, vF64); }
    else if (mpStrIs("rho")) { if (!readNum("layers.rho", 0, false, l)) return errCode; setSt(l, SL_RHO, vF64); }
    else if (mpStrIs("vTh")) { if (!readNum("layers.vTh", 0, false, l)) return errCode; setSt(l, SL_VTH, vF64); }
    else if (mpStrIs("gamma")) { if (!readNum("layers.gamma", 0, true, l)) return errCode; setSt(l, SL_GAMMA, vF64); }
    else if (mpStrIs("beta")) {
      const k = mpNext();
      if (k == T_BIN) {
        setSt(l, SL_BETAPTR, <f64>tPtr);
        setSt(l, SL_BETA, <f64>tLen); // the bin's length until n is known
      } else if (k == T_INT || k == T_FLOAT) {
        const b = k == T_INT ? <f64>tInt : tFloat;
        if (!isFinite(b) || b < 0) return fail(E_BAD_VALUE, "layers.beta", "layer %: must be finite and >= 0", <u32>l);
        setSt(l, SL_BETA, b);
        setSt(l, SL_BETAPTR, 0);
      } else return fail(E_BAD_FIELD, "layers.beta", "layer %: must be a number or a bin of n f32", <u32>l);
      setSt(l, SL_BETASET, 1);
    } else return failKey(E_BAD_FIELD, "not a field of an OSTL layer (n, neuron, tauMem, tauAdapt, alpha, rho, vTh, gamma, beta)");
  }
  const n = <u32>st(l, SL_N);
  if (n == 0) return fail(E_BAD_FIELD, "layers.n", "layer %: missing", <u32>l);
  const alif = st(l, SL_ALIF) != 0;
  if (st(l, SL_BETASET) == 0) setSt(l, SL_BETA, alif ? 1.0 : 0); // OSTL.md layer defaults
  const bp = <usize>st(l, SL_BETAPTR);
  let any = bp == 0 && st(l, SL_BETA) != 0;
  if (bp != 0) {
    if (<u32>st(l, SL_BETA) != n * 4) return fail(E_BAD_SHAPE, "layers.beta", "layer %: must hold n = % f32", <u32>l, n);
    const bad = firstBad(bp, n, true);
    if (bad >= 0) return fail(E_BAD_VALUE, "layers.beta", "layer %: element % is negative, NaN or infinite", <u32>l, <u32>bad);
    for (let j: u32 = 0; j < n; j++) if (f32At(bp, j) != 0) any = true;
  }
  if (!alif && any) return fail(E_BAD_VALUE, "layers.beta", "layer %: must be 0 for neuron lif (use neuron alif)", <u32>l);
  setSt(l, SL_ALIF, any ? 1 : 0); // the arena has adaptation state iff some beta != 0 (as host/rules/ostl/layout.ts)
  return H_DONE;
}

/** An upper bound of the arena bytes (u64: no overflow for any sizes the fields allow). */
function arenaBound(nI: u64, nO: u64, L: i32): u64 {
  let b: u64 = <u64>HEADER_BYTES + 64 * 16;
  let pre = nI;
  for (let l = 0; l < L; l++) {
    const n = <u64>st(l, SL_N);
    b += ((pre + 1) * n * 8 + n * 12 + pre + 1) * 4 + 16 * 16;
    pre = n;
  }
  return b + (nO * pre * 4 + pre * 2 + nO * 12) * 4;
}

function hConfigure(): i32 {
  const n = mpReadMap();
  let nI: u32 = 0, nO: u32 = 0, L: i32 = 0;
  let dt: f64 = 1, tauOut: f64 = 20, kappa: f64 = NaN;
  let ce = false, mean = false, trainBias = true, resetGrad = true, adam = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (isRuleKey()) continue;
    if (mpStrIs("nIn") || mpStrIs("nOut")) {
      const isIn = mpStrIs("nIn");
      if (!mpReadU32() || vU32 < 1 || vU32 > 65535) return fail(E_BAD_VALUE, isIn ? "nIn" : "nOut", "must be an integer in 1..65535");
      if (isIn) nI = vU32; else nO = vU32;
    }
    else if (mpStrIs("dt")) { if (!readNum("dt", 0, false)) return errCode; dt = vF64; }
    else if (mpStrIs("tauOut")) { if (!readNum("tauOut", 0, false)) return errCode; tauOut = vF64; }
    else if (mpStrIs("kappa")) { if (!readNum("kappa", 0, false)) return errCode; kappa = vF64; }
    else if (mpStrIs("loss")) { const c = readChoice("loss", "mse", "ce"); if (c < 0) return errCode; ce = c == 1; }
    else if (mpStrIs("lossReduction")) { const c = readChoice("lossReduction", "sum", "mean"); if (c < 0) return errCode; mean = c == 1; }
    else if (mpStrIs("optimizer")) { const c = readChoice("optimizer", "gd", "adam"); if (c < 0) return errCode; adam = c == 1; }
    else if (mpStrIs("trainBias")) { if (!readBool("trainBias")) return errCode; trainBias = vBool; }
    else if (mpStrIs("resetGrad")) { if (!readBool("resetGrad")) return errCode; resetGrad = vBool; }
    else if (mpStrIs("layers")) {
      if (mpNext() != T_ARRAY) return fail(E_BAD_FIELD, "layers", "must be an array of layer maps");
      if (tLen < 1 || tLen > <u32>MAXL) return fail(E_BAD_VALUE, "layers", "must hold 1 to % layers (got %)", <u32>MAXL, tLen);
      L = <i32>tLen;
      for (let l = 0; l < L; l++) if (readLayer(l) != H_DONE) return errCode;
    }
    else return failKey(E_BAD_FIELD, "not a field of an OSTL CONFIGURE (OSTL.md: no recurrence, refractoriness, rateReg or scales; per-layer fields go in layers)");
  }
  if (nI == 0) return fail(E_BAD_FIELD, "nIn", "missing");
  if (nO == 0) return fail(E_BAD_FIELD, "nOut", "missing");
  if (L == 0) return fail(E_BAD_FIELD, "layers", "missing");

  // the arena: its size first (nothing has changed yet)
  const base = arenaStart();
  const have: u64 = (<u64>memory.size() << 16) - <u64>base;
  const bound = arenaBound(<u64>nI, <u64>nO, L);
  if (bound > 0x7fff0000) return fail(E_NO_MEMORY, "layers", "the stack needs about % MiB; board has % bytes free", <u32>(bound >> 20), <u32>have);
  let f: i32 = 0; // model flags exactly as host/rules/ostl/layout.ts ostlFlags()
  if (ce) f |= F_CE;
  if (adam) f |= F_ADAM;
  if (trainBias) f |= F_TRAINBIAS;
  if (mean) f |= F_MEAN;
  if (resetGrad) f |= OF_RESETGRAD;
  restoreNext = 0; // the planner's tables change from here: a checkpoint restore in progress ends
  osBegin(<i32>nI, <i32>nO, L, f);
  for (let l = 0; l < L; l++) osLayer(l, <i32>st(l, SL_N), st(l, SL_ALIF) != 0 ? F_ALIF : 0);
  const bytes = osPlan();
  const r = bytes == 0 ? fail(E_NO_MEMORY, "layers", "a layer's matrix exceeds 2^26 entries") : grow(base, bytes, have);
  if (r != H_DONE) {
    if (configured) osAttach(base); // the planner's tables back to the model in place
    return r;
  }

  // constants: the host's float64 decays (or exp(-dt/tau) here), rounded to f32 once
  osConfigure(base);
  for (let l = 0; l < L; l++) {
    const alpha = isNaN(st(l, SL_ALPHA)) ? Math.exp(-dt / st(l, SL_TAUMEM)) : st(l, SL_ALPHA);
    const rho = isNaN(st(l, SL_RHO)) ? Math.exp(-dt / st(l, SL_TAUADAPT)) : st(l, SL_RHO);
    osConstants(l, <f32>alpha, <f32>rho, <f32>st(l, SL_VTH), <f32>st(l, SL_GAMMA));
    if (st(l, SL_ALIF) != 0) {
      const pb = osPtr(O_BETA, l), bp = <usize>st(l, SL_BETAPTR), nl = <i32>st(l, SL_N);
      for (let j = 0; j < nl; j++) store<f32>(pb + (<usize>j << 2), bp != 0 ? f32At(bp, <u32>j) : <f32>st(l, SL_BETA));
    }
  }
  osReadout(<f32>(isNaN(kappa) ? Math.exp(-dt / tauOut) : kappa));
  configured = true;
  adamStep = 0;
  trial = TRIAL_NEW;
  mpWriteMap(2);
  mpWriteStr("bytes");
  mpWriteUint(bytes);
  mpWriteStr("ram");
  mpWriteUint(hFreeRam());
  return H_DONE;
}

/** Grows linear memory to hold `bytes` at `base`; NO_MEMORY naming both numbers if it cannot. */
function grow(base: usize, bytes: u32, have: u64): i32 {
  const end: u64 = <u64>base + <u64>bytes;
  const size: u64 = <u64>memory.size() << 16;
  if (end > size && memory.grow(<i32>((end - size + 0xffff) >> 16)) < 0) {
    return fail(E_NO_MEMORY, "", "the stack needs % bytes; board has % bytes free", bytes, <u32>have);
  }
  return H_DONE;
}

// ---------------------------------------------------------------- WRITE / READ / GRADS
/** Elements of id p (-1: no such id in this model); `grad` for GRADS (no beta). */
function idCount(p: u32, grad: bool): i32 {
  const L = <u32>nLayers();
  if (p < 2 * L) {
    const l = <i32>(p >> 1);
    return (p & 1) == 0 ? layerN(l) * nPrev(l) : layerN(l);
  }
  if (p == ID_WOUT) return cfgNOut() * nTop();
  if (p == ID_BOUT) return cfgNOut();
  if (!grad && p >= ID_BETA && p < ID_BETA + L && (layerFlags(<i32>(p - ID_BETA)) & F_ALIF) != 0) return layerN(<i32>(p - ID_BETA));
  return -1;
}

/** Address of element e (row-major in the host's shapes) of id p: the parameter, or its gradient. */
function idAddr(p: u32, grad: bool, e: i32): usize {
  if (p < ID_WOUT) {
    const l = <i32>(p >> 1), S = osStride(l), np = nPrev(l);
    // W[j][i] at (i, j) of the pre-major [P][S] matrix, b[j] in its last row
    const idx = (p & 1) == 0 ? (e % np) * S + e / np : np * S + e;
    return osPtr(grad ? O_G : O_W, l) + (<usize>idx << 2);
  }
  if (p == ID_WOUT) {
    const nt = nTop();
    return osPtr(grad ? O_GOUT : O_WOUT, 0) + (<usize>((e / nt) * osStride(nLayers() - 1) + e % nt) << 2);
  }
  if (p == ID_BOUT) return osPtr(grad ? O_GB : O_BOUT, 0) + (<usize>e << 2);
  return osPtr(O_BETA, <i32>(p - ID_BETA)) + (<usize>e << 2);
}

function failId(p: u32, grad: bool): i32 {
  if (grad && p >= ID_BETA) return fail(E_BAD_VALUE, "p", "id %: beta is a constant, it has no gradient", p);
  if (p >= ID_BETA && p < ID_BETA + <u32>MAXL) return fail(E_BAD_VALUE, "p", "id %: layer % has no adaptation (neuron alif with some beta != 0), or no such layer", p, p - ID_BETA);
  return fail(E_BAD_VALUE, "p", "unknown id % (2l: W of layer l, 2l+1: its b, 32 wOut, 33 bOut, 48+l beta; % layers)", p, <u32>nLayers());
}

let fP: u32 = 0, fO: u32 = 0, fN: u32 = 0, fHasN: bool = false, fD: usize = 0, fDLen: u32 = 0, fHasD: bool = false;

/** Reads {p, o, n (READ/GRADS) | d (WRITE)}; false with the error set. */
function readPOND(write: bool): bool {
  fP = 0xffffffff; fO = 0; fN = 0; fHasN = false; fD = 0; fDLen = 0; fHasD = false;
  const n = mpReadMap();
  for (let i = 0; i < n; i++) {
    if (!readKey()) return false;
    if (mpStrIs("p")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "p", "must be an unsigned integer"); return false; } fP = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "o", "must be an unsigned integer"); return false; } fO = vU32; }
    else if (!write && mpStrIs("n")) { if (!mpReadU32()) { fail(E_BAD_FIELD, "n", "must be an unsigned integer"); return false; } fN = vU32; fHasN = true; }
    else if (write && mpStrIs("d")) { if (!mpReadBin()) { fail(E_BAD_FIELD, "d", "must be a bin of little-endian f32"); return false; } fD = tPtr; fDLen = tLen; fHasD = true; }
    else { failKey(E_BAD_FIELD, "unknown field"); return false; }
  }
  if (fP == 0xffffffff) { fail(E_BAD_FIELD, "p", "missing"); return false; }
  if (write && !fHasD) { fail(E_BAD_FIELD, "d", "missing"); return false; }
  if (!configured) { fail(E_NOT_CONFIGURED, "", "OSTL: CONFIGURE the stack first"); return false; }
  return true;
}

function hWrite(): i32 {
  if (!readPOND(true)) return errCode;
  const total = idCount(fP, false);
  if (total < 0) return failId(fP, false);
  if ((fDLen & 3) != 0) return fail(E_BAD_SHAPE, "d", "% bytes is not a whole number of f32", fDLen);
  const cnt = fDLen >> 2;
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "d", "offset + count exceeds the parameter's % elements", <u32>total);
  const bad = firstBad(fD, cnt, fP >= ID_BETA);
  if (bad >= 0) return fail(E_BAD_VALUE, "d", fP >= ID_BETA ? "element % is negative, NaN or infinite" : "element % is NaN or infinite", <u32>bad);
  for (let i: u32 = 0; i < cnt; i++) store<f32>(idAddr(fP, false, <i32>(fO + i)), f32At(fD, i));
  mpWriteMap(2);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("n");
  mpWriteUint(cnt);
  return H_DONE;
}

/** READ (parameters) or GRADS (their gradients: after RUN `end`, reduced as lossReduction says). */
function hRead(grad: bool): i32 {
  if (!readPOND(false)) return errCode;
  const total = idCount(fP, grad);
  if (total < 0) return failId(fP, grad);
  const cnt: u32 = fHasN ? fN : (fO < <u32>total ? <u32>total - fO : 0);
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "n", "offset + count exceeds the % elements", <u32>total);
  if (cnt > 16383) return fail(E_BAD_SHAPE, "n", "at most 16383 elements per request");
  mpWriteMap(3);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("o");
  mpWriteUint(fO);
  mpWriteStr("d");
  const dst = mpWriteBinReserve(cnt << 2);
  if (dst != 0) { // 0: the writer overflowed, the dispatcher answers TOO_LARGE
    for (let i: u32 = 0; i < cnt; i++) store<f32>(dst + (<usize>i << 2), load<f32>(idAddr(fP, grad, <i32>(fO + i))));
  }
  return H_DONE;
}

// ---------------------------------------------------------------- RUN
function hRun(): i32 {
  const n = mpReadMap();
  let steps: u32 = 0, xf: u32 = 0, o: u32 = 0;
  let xPtr: usize = 0, xLen: u32 = 0, hasX = false;
  let tgPtr: usize = 0, tgLen: u32 = 0, hasTg = false;
  let mPtr: usize = 0, mLen: u32 = 0, hasM = false;
  let rs = false, end = false, learn = true, learnSet = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("n")) { if (!mpReadU32(65535)) return fail(E_BAD_FIELD, "n", "must be an unsigned integer <= 65535"); steps = vU32; }
    else if (mpStrIs("xf")) { if (!mpReadU32(1)) return fail(E_BAD_FIELD, "xf", "must be 0 (bits) or 1 (f32)"); xf = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32(7)) return fail(E_BAD_FIELD, "o", "must be a bitmask <= 7 (1 y, 2 sc, 4 z)"); o = vU32; }
    else if (mpStrIs("x")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "x", "must be a bin"); xPtr = tPtr; xLen = tLen; hasX = true; }
    else if (mpStrIs("tg")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "tg", "must be a bin of f32"); tgPtr = tPtr; tgLen = tLen; hasTg = true; }
    else if (mpStrIs("m")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "m", "must be a bin (bitmap)"); mPtr = tPtr; mLen = tLen; hasM = true; }
    else if (mpStrIs("rs")) { if (!readBool("rs")) return errCode; rs = vBool; }
    else if (mpStrIs("end")) { if (!readBool("end")) return errCode; end = vBool; }
    else if (mpStrIs("learn")) { if (!readBool("learn")) return errCode; learn = vBool; learnSet = true; }
    else return failKey(E_BAD_FIELD, "not a field of an OSTL RUN (n, x, xf, tg, m, rs, end, learn, o)");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "OSTL: RUN before CONFIGURE");
  if (steps == 0) return fail(E_BAD_FIELD, "n", "missing or 0");
  if (!hasX) return fail(E_BAD_FIELD, "x", "missing");
  const nIn = <u32>cfgNIn(), nOut = <u32>cfgNOut();
  const xRow: u32 = xf == 0 ? (nIn + 7) >> 3 : nIn * 4;
  if (<u64>xLen != <u64>steps * xRow) return fail(E_BAD_SHAPE, "x", "must be n x % bytes (got % bytes)", xRow, xLen);
  if (hasTg && <u64>tgLen != <u64>steps * <u64>nOut * 4) return fail(E_BAD_SHAPE, "tg", "must be n x nOut f32 (nOut = %, got % bytes)", nOut, tgLen);
  if (hasM && mLen != (steps + 7) >> 3) return fail(E_BAD_SHAPE, "m", "must be a bitmap of n bits (% bytes)", (steps + 7) >> 3);
  if (xf == 1 && firstBad(xPtr, xLen >> 2, false) >= 0) return fail(E_BAD_VALUE, "x", "contains NaN or infinity");
  if (hasTg && firstBad(tgPtr, tgLen >> 2, false) >= 0) return fail(E_BAD_VALUE, "tg", "contains NaN or infinity");
  if (!rs && trial == TRIAL_ENDED) return fail(E_BAD_VALUE, "rs", "the trial has ended (RUN end): start the next one with rs");
  if (!learnSet) learn = hasTg;

  // response: n, t, then the requested arrays, then loss (when the trial ends)
  const N = <u32>nAll();
  const zRow: u32 = (N + 7) >> 3;
  mpWriteMap(2 + (o & 1) + ((o >> 1) & 1) + ((o >> 2) & 1) + (end ? 1 : 0));
  mpWriteStr("n");
  mpWriteUint(steps);
  mpWriteStr("t"); // known only after the steps: a fixed-size uint32
  const tAt = mpReserve(5);
  let yAt: usize = 0, scAt: usize = 0, zAt: usize = 0;
  if ((o & 1) != 0) { mpWriteStr("y"); yAt = mpWriteBinReserve(steps * nOut * 4); }
  if ((o & 2) != 0) { mpWriteStr("sc"); scAt = mpWriteBinReserve(N * 2); }
  if ((o & 4) != 0) { mpWriteStr("z"); zAt = mpWriteBinReserve(steps * zRow); }
  if (tAt == 0 || ((o & 1) != 0 && yAt == 0) || ((o & 2) != 0 && scAt == 0) || ((o & 4) != 0 && zAt == 0)) {
    return H_DONE; // the writer overflowed: the dispatcher answers TOO_LARGE (nothing was run)
  }
  if (scAt != 0) memory.fill(scAt, 0, <usize>N * 2);
  if (zAt != 0) memory.fill(zAt, 0, <usize>steps * zRow);

  if (rs) {
    osReset();
    trial = TRIAL_NEW;
  }
  rSteps = steps; rT = 0; rXf = xf; rXRow = xRow; rX = xPtr; rTg = hasTg ? tgPtr : 0; rM = hasM ? mPtr : 0;
  rLearn = learn; rEnd = end; rYAt = yAt; rScAt = scAt; rZAt = zAt; rTAt = tAt; rZRow = zRow;
  rBodyLen = mpWritten();
  rActive = true;
  return runSome();
}

// ---- the RUN in progress (pointers into the request frame, which the dispatcher keeps) ----
let rActive: bool = false;
let rSteps: u32 = 0, rT: u32 = 0, rXf: u32 = 0, rXRow: u32 = 0, rZRow: u32 = 0;
let rX: usize = 0, rTg: usize = 0, rM: usize = 0;
let rLearn: bool = false, rEnd: bool = false;
let rYAt: usize = 0, rScAt: usize = 0, rZAt: usize = 0, rTAt: usize = 0;
let rBodyLen: u32 = 0;

/** Synapse-steps of work per poll (at least one step), as e-prop's RUN (device/HAL.md). */
const WORK_PER_POLL: u64 = 1 << 18;

/** Records the spikes of step t of every layer into `sc` and `z` (neuron j of layer l at bit sum_{l'<l} n_l' + j). */
function recordSpikes(t: u32): void {
  let bit: u32 = 0;
  for (let l = 0; l < nLayers(); l++) {
    const pZ = osPtr(O_Z, l), nl = <u32>layerN(l);
    for (let j: u32 = 0; j < nl; j++, bit++) {
      if (f32At(pZ, j) == 0) continue;
      if (rScAt != 0) {
        const a = rScAt + (<usize>bit << 1);
        const c = load<u16>(a);
        if (c != 0xffff) store<u16>(a, c + 1);
      }
      if (rZAt != 0) {
        const a = rZAt + <usize>(t * rZRow) + <usize>(bit >> 3);
        store<u8>(a, load<u8>(a) | <u8>(1 << <u8>(bit & 7)));
      }
    }
  }
}

/** Advances the RUN by a bounded amount of work; finishes the response when the last step is done. */
function runSome(): i32 {
  const nIn = cfgNIn(), nOut = cfgNOut();
  const pAct = osPtr(O_ACT, 0), pTarget = osPtr(O_TARGET, 0), pY = osPtr(O_Y, 0);
  const tgRow = <usize>nOut << 2;
  let perStep: u64 = <u64>nOut * <u64>nTop() + 1;
  for (let l = 0; l < nLayers(); l++) perStep += <u64>(nPrev(l) + 1) * <u64>layerN(l);
  let budget: u64 = WORK_PER_POLL;
  do {
    const t = rT;
    if (rXf == 0) { // x^t: bits as 0/1 floats
      const row = rX + <usize>(t * rXRow);
      for (let i = 0; i < nIn; i++) {
        store<f32>(pAct + (<usize>i << 2), ((load<u8>(row + <usize>(i >> 3)) >> <u8>(i & 7)) & 1) != 0 ? <f32>1 : <f32>0);
      }
    } else {
      memory.copy(pAct, rX + <usize>t * (<usize>nIn << 2), <usize>nIn << 2);
    }
    if (rTg != 0) memory.copy(pTarget, rTg + <usize>t * tgRow, tgRow);
    else memory.fill(pTarget, 0, tgRow);
    const mask: f32 = rM != 0 ? <f32>((load<u8>(rM + <usize>(t >> 3)) >> <u8>(t & 7)) & 1) : 1;
    if (rLearn) osStep(mask);
    else osForward(mask);
    if (rYAt != 0) memory.copy(rYAt + <usize>t * tgRow, pY, tgRow);
    if (rScAt != 0 || rZAt != 0) recordSpikes(t);
    rT++;
    budget = budget > perStep ? budget - perStep : 0;
  } while (rT < rSteps && budget > 0);
  trial = TRIAL_OPEN;
  if (rT < rSteps) return H_PENDING;
  rActive = false;
  // t as uint32 (0xce + big-endian): a valid, if not minimal, MessagePack uint
  store<u8>(rTAt, 0xce);
  store<u32>(rTAt + 1, bswap<u32>(<u32>osSteps()));
  if (rEnd) {
    const loss = osFinish();
    trial = TRIAL_ENDED;
    mpWriteStr("loss");
    mpWriteF64(loss);
  }
  return H_DONE;
}

/** The next slice of a pending RUN (the writer is at the body start again). */
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
function hApply(): i32 {
  const n = mpReadMap();
  let opt: u32 = 0, lr: f64 = NaN, b1: f64 = 0.9, b2: f64 = 0.999, eps: f64 = 1e-8;
  let wMin: f64 = NaN, wMax: f64 = NaN, k: u32 = 0, adamField = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("opt")) { if (!mpReadU32(1)) return fail(E_BAD_FIELD, "opt", "must be 0 (gd) or 1 (adam)"); opt = vU32; }
    else if (mpStrIs("lr")) { if (!readNum("lr", 0, false)) return errCode; lr = vF64; }
    else if (mpStrIs("b1") || mpStrIs("b2")) {
      const isB1 = mpStrIs("b1");
      if (!readNum(isB1 ? "b1" : "b2", 0, true)) return errCode;
      if (vF64 >= 1) return fail(E_BAD_VALUE, isB1 ? "b1" : "b2", "must be in [0, 1)");
      if (isB1) b1 = vF64; else b2 = vF64;
      adamField = true;
    }
    else if (mpStrIs("eps")) { if (!readNum("eps", 0, false)) return errCode; eps = vF64; adamField = true; }
    else if (mpStrIs("wMin")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "wMin", "must be a finite number"); wMin = vF64; }
    else if (mpStrIs("wMax")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "wMax", "must be a finite number"); wMax = vF64; }
    else if (mpStrIs("k")) { if (!mpReadU32() || vU32 == 0) return fail(E_BAD_FIELD, "k", "must be an unsigned integer >= 1"); k = vU32; adamField = true; }
    else return failKey(E_BAD_FIELD, "not a field of APPLY (opt, lr, b1, b2, eps, k, wMin, wMax)");
  }
  if (isNaN(lr)) return fail(E_BAD_FIELD, "lr", "missing");
  const clip = !isNaN(wMin) || !isNaN(wMax);
  if (opt == 0 && adamField) return fail(E_BAD_FIELD, "opt", "b1, b2, eps and k are Adam's (opt 1)");
  if (opt == 1 && clip) return fail(E_BAD_FIELD, "wMin", "clipping is for gd (opt 0) only");
  if (clip && (isNaN(wMin) || isNaN(wMax) || wMin > wMax)) return fail(E_BAD_VALUE, "wMin", "clipping needs both wMin <= wMax");
  if (!configured) return fail(E_NOT_CONFIGURED, "", "OSTL: APPLY before CONFIGURE");
  if (opt == 1 && (cfgModelFlags() & F_ADAM) == 0) return fail(E_BAD_VALUE, "opt", "the stack was configured without optimizer \"adam\"");
  if (trial == TRIAL_OPEN) return fail(E_BAD_VALUE, "end", "a trial is running: end it (RUN end) before APPLY");
  if (opt == 0) {
    osApplyGd(<f32>lr, clip, clip ? <f32>wMin : 0, clip ? <f32>wMax : 0);
  } else {
    adamStep = k != 0 ? k : adamStep + 1;
    osApplyAdam(<f32>lr, <f32>b1, <f32>b2, <f32>eps, <i32>adamStep);
  }
  mpWriteMap(1);
  mpWriteStr("k");
  mpWriteUint(opt == 1 ? adamStep : <u32>osUpdates());
  return H_DONE;
}

// ---------------------------------------------------------------- CHECKPOINT
// Blob = a 32-byte prefix + the arena itself (its 448-byte header, parameters, state, traces,
// gradients, Adam moments: ./layout.ts):
//   0 'OSCK'  4 version 1  8 total bytes  12 CRC-32C of bytes 16..end (prefix rest + arena)
//   16 Adam step  20 trial (0 new, 1 running, 2 ended)  24..31 reserved 0
// The arena's own header (magic OSTL, version, lanes, sizes) is checked by osAttach, every value
// by osValidate, the whole blob by the CRC: a torn, foreign or damaged blob is refused (STORAGE)
// and the model it was replacing is gone.
const CK_PREFIX: u32 = 32;
const CK_MAGIC: u32 = 0x4b43534f; // "OSCK" little-endian
const CK_VERSION: u32 = 1;
const ckHdr: usize = memory.data(32, 16);
/** Next expected offset of a chunked restore (0: none in progress); its total; whether the arena header was adopted. */
let restoreNext: u32 = 0;
let restoreTotal: u32 = 0;
let restoreAttached: bool = false;

function ckFillPrefix(): void {
  memory.fill(ckHdr, 0, CK_PREFIX);
  store<u32>(ckHdr, CK_MAGIC);
  store<u32>(ckHdr + 4, CK_VERSION);
  store<u32>(ckHdr + 8, CK_PREFIX + osArenaBytes());
  store<u32>(ckHdr + 16, adamStep);
  store<u32>(ckHdr + 20, trial);
  store<u32>(ckHdr + 12, crc32c(arenaStart(), osArenaBytes(), crc32c(ckHdr + 16, CK_PREFIX - 16)));
}

/** Checks the prefix in ckHdr and makes room for its arena; once it passes, the model in place is forgotten. */
function ckBegin(avail: u64): i32 {
  restoreNext = 0;
  if (load<u32>(ckHdr) != CK_MAGIC) return fail(E_STORAGE, "", "not an OSTL checkpoint (bad magic)");
  if (load<u32>(ckHdr + 4) != CK_VERSION) return fail(E_STORAGE, "", "OSTL checkpoint version % is not supported", load<u32>(ckHdr + 4));
  const total = load<u32>(ckHdr + 8);
  if (total < CK_PREFIX + HEADER_BYTES || load<u32>(ckHdr + 20) > TRIAL_ENDED) return fail(E_STORAGE, "", "OSTL checkpoint prefix is corrupt");
  if (<u64>total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes is truncated (% available)", total, <u32>avail);
  const base = arenaStart();
  const r = grow(base, total - CK_PREFIX, (<u64>memory.size() << 16) - <u64>base);
  if (r != H_DONE) return r;
  configured = false;
  restoreAttached = false;
  restoreTotal = total;
  return H_DONE;
}

/** Once the arena's header is in place: adopt it (its sizes must lay out to the blob's size). */
function ckAttach(): i32 {
  if (osAttach(arenaStart()) != restoreTotal - CK_PREFIX) {
    restoreNext = 0;
    return fail(E_STORAGE, "", "not an OSTL arena this firmware can run (magic, version, lanes or sizes)");
  }
  restoreAttached = true;
  return H_DONE;
}

/** The whole arena is in place: check the CRC and every value; only then is the model usable. */
function ckFinish(): i32 {
  restoreNext = 0;
  const want = load<u32>(ckHdr + 12);
  if (crc32c(arenaStart(), osArenaBytes(), crc32c(ckHdr + 16, CK_PREFIX - 16)) != want) {
    return fail(E_STORAGE, "", "checkpoint CRC mismatch: the model was discarded");
  }
  const bad = osValidate();
  if (bad >= 0) return fail(E_STORAGE, "", "checkpoint value at arena byte % is not finite or out of range: the model was discarded", <u32>bad);
  adamStep = load<u32>(ckHdr + 16);
  trial = load<u32>(ckHdr + 20);
  configured = true;
  return H_DONE;
}

function ckSizeK(): i32 {
  mpWriteMap(2);
  mpWriteStr("size");
  mpWriteUint(CK_PREFIX + osArenaBytes());
  mpWriteStr("k");
  mpWriteUint(<u32>osUpdates());
  return H_DONE;
}

/** WRITE: chunks in order from 0; the first holds the prefix, the arena's header is adopted as soon as it is complete. */
function ckWrite(o: u32, d: usize, len: u32): i32 {
  const got = len;
  if (o == 0) {
    if (len < CK_PREFIX) return fail(E_BAD_SHAPE, "d", "the first chunk must hold the % byte prefix", CK_PREFIX);
    memory.copy(ckHdr, d, CK_PREFIX);
    const r = ckBegin(0xffffffff);
    if (r != H_DONE) return r;
    restoreNext = CK_PREFIX;
    d += CK_PREFIX;
    len -= CK_PREFIX;
    o = CK_PREFIX;
  } else if (restoreNext == 0 || o != restoreNext) {
    return fail(E_BAD_VALUE, "o", "chunks must be written in order from 0 (expected offset %)", restoreNext);
  }
  if (<u64>o + <u64>len > <u64>restoreTotal) return fail(E_BAD_SHAPE, "d", "chunk runs past the checkpoint's % bytes", restoreTotal);
  memory.copy(arenaStart() + <usize>(o - CK_PREFIX), d, len);
  restoreNext = o + len;
  if (!restoreAttached && restoreNext >= CK_PREFIX + HEADER_BYTES) {
    const r = ckAttach();
    if (r != H_DONE) return r;
  }
  if (restoreNext == restoreTotal) {
    const r = ckFinish();
    if (r != H_DONE) return r;
  }
  mpWriteMap(2);
  mpWriteStr("size");
  mpWriteUint(restoreTotal);
  mpWriteStr("n");
  mpWriteUint(got);
  return H_DONE;
}

/** LOAD: persistent storage → the model (same checks as WRITE). */
function ckLoad(): i32 {
  const avail = storage_size();
  if (avail < CK_PREFIX + HEADER_BYTES) return fail(E_STORAGE, "", "the board has no storage for checkpoints (% bytes)", avail);
  if (storage_read(0, ckHdr, CK_PREFIX) != CK_PREFIX) return fail(E_STORAGE, "", "storage read failed");
  let r = ckBegin(<u64>avail);
  if (r != H_DONE) return r;
  const base = arenaStart();
  if (storage_read(CK_PREFIX, base, HEADER_BYTES) != HEADER_BYTES) return fail(E_STORAGE, "", "storage read failed");
  r = ckAttach();
  if (r != H_DONE) return r;
  const rest = restoreTotal - CK_PREFIX - HEADER_BYTES;
  if (storage_read(CK_PREFIX + HEADER_BYTES, base + HEADER_BYTES, rest) != rest) return fail(E_STORAGE, "", "storage read failed");
  r = ckFinish();
  if (r != H_DONE) return r;
  return ckSizeK();
}

/** SAVE: the arena first, the prefix last, so a torn save leaves no valid checkpoint behind. */
function ckSave(): i32 {
  const total = CK_PREFIX + osArenaBytes();
  const avail = storage_size();
  if (total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes does not fit the board's % bytes of storage", total, avail);
  ckFillPrefix();
  store<u32>(ckHdr, 0xffffffff);
  if (storage_write(0, ckHdr, 4) != 4) return fail(E_STORAGE, "", "storage write failed");
  if (storage_write(CK_PREFIX, arenaStart(), osArenaBytes()) != osArenaBytes()) return fail(E_STORAGE, "", "storage write failed");
  store<u32>(ckHdr, CK_MAGIC);
  if (storage_write(0, ckHdr, CK_PREFIX) != CK_PREFIX) return fail(E_STORAGE, "", "storage write failed");
  return ckSizeK();
}

/** READ: bytes [o, o + n) of the blob. */
function ckRead(o: u32, cnt: u32, hasN: bool): i32 {
  const total = CK_PREFIX + osArenaBytes();
  if (!hasN) cnt = o < total ? total - o : 0;
  if (<u64>o + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "n", "offset + count exceeds the checkpoint's % bytes", total);
  if (cnt > 0xffff) return fail(E_BAD_SHAPE, "n", "at most 65535 bytes per request");
  if (o < CK_PREFIX) ckFillPrefix();
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
      store<u8>(dst + <usize>i, at < CK_PREFIX ? load<u8>(ckHdr + <usize>at) : load<u8>(arenaStart() + <usize>(at - CK_PREFIX)));
    }
  }
  return H_DONE;
}

function hCheckpoint(): i32 {
  const n = mpReadMap();
  let op: u32 = 0xffffffff, o: u32 = 0, cnt: u32 = 0, hasN = false;
  let dPtr: usize = 0, dLen: u32 = 0, hasD = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (isRuleKey()) continue;
    if (mpStrIs("op")) { if (!mpReadU32(4)) return fail(E_BAD_FIELD, "op", "must be 0 read, 1 write, 2 save, 3 load or 4 info"); op = vU32; }
    else if (mpStrIs("o")) { if (!mpReadU32()) return fail(E_BAD_FIELD, "o", "must be an unsigned integer"); o = vU32; }
    else if (mpStrIs("n")) { if (!mpReadU32()) return fail(E_BAD_FIELD, "n", "must be an unsigned integer"); cnt = vU32; hasN = true; }
    else if (mpStrIs("d")) { if (!mpReadBin()) return fail(E_BAD_FIELD, "d", "must be a bin"); dPtr = tPtr; dLen = tLen; hasD = true; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (op == 0xffffffff) return fail(E_BAD_FIELD, "op", "missing");
  if (op == 1) return hasD ? ckWrite(o, dPtr, dLen) : fail(E_BAD_FIELD, "d", "missing");
  if (op == 3) return ckLoad();
  if (!configured) return fail(E_NOT_CONFIGURED, "", "OSTL: CHECKPOINT before CONFIGURE");
  if (op == 4) return ckSizeK();
  if (op == 2) return ckSave();
  return ckRead(o, cnt, hasN);
}

// ---------------------------------------------------------------- RESET
/** RESET: bits 1|2 a new trial, 4 the optimizer (Adam moments, step and update counts), 8 forget the model. */
function hReset(k: u32): i32 {
  if ((k & 8) != 0) {
    configured = false;
    restoreNext = 0;
    return H_DONE;
  }
  if (!configured) return H_DONE;
  if ((k & 3) != 0) {
    osReset();
    trial = TRIAL_NEW;
  }
  if ((k & 4) != 0) {
    osResetOptimizer();
    adamStep = 0;
  }
  return H_DONE;
}
