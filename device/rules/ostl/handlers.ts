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
  mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool,
  tPtr, tLen, tInt, tFloat, T_ARRAY, T_STR, T_BIN, T_INT, T_FLOAT,
  mpWriteMap, mpWriteStr, mpWriteUint, mpWriteF64, mpWriteBinReserve, ldF32, stF32,
} from "../../firmware/msgpack";
import {
  fail, errCode, E_BAD_FIELD, E_BAD_SHAPE, E_BAD_VALUE, E_NO_MEMORY, E_NOT_CONFIGURED, E_STORAGE, E_INTERNAL,
} from "../../firmware/errors";
import { readKey, failKey, M_CONFIGURE, M_WRITE, M_READ, M_RUN, M_APPLY, M_GRADS, M_CHECKPOINT } from "../../firmware/dispatcher";
import { H_DONE, H_PENDING, OP_NAME, OP_CONTINUE, OP_RESET, OP_BYTES, OP_CAPS, arenaStart, isRuleKey } from "../../firmware/rule";
import { hFreeRam } from "../../firmware/handlers";
import { crc32c } from "../../firmware/crc32c";
import { storage_size, storage_read } from "../../firmware/hal";
import {
  readChoice, readPOND, fP, fO, fN, fHasN, fD, fDLen, fHasD, readRun, checkRun, beginRun, stepInputs, stepOutputs,
  wantsSpikes, stepSpike, stepDone, endRun, resumeRun, runRs, runEnd, runLearn, readCheckpoint, ckOp, ckO, ckD, ckDLen,
  ckHasD, readBlobChunk, saveBlob, writeSizeK,
} from "../../firmware/model-io";
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
/** A number into vF64, finite and > 0 (>= 0 with `orZero`); `l` >= 0 names the layer; false with the error set. */
function readNum(field: string, orZero: bool, l: i32 = -1): bool {
  if (!mpReadNum()) { fail(E_BAD_FIELD, field, l < 0 ? "must be a number" : "layer %: must be a number", <u32>l); return false; }
  if (isFinite(vF64) && (vF64 > 0 || (orZero && vF64 == 0))) return true;
  const text = orZero ? (l < 0 ? "must be finite and >= 0" : "layer %: must be finite and >= 0") : (l < 0 ? "must be finite and > 0" : "layer %: must be finite and > 0");
  fail(E_BAD_VALUE, field, text, <u32>l);
  return false;
}
function readBool(field: string): bool {
  if (!mpReadBool()) { fail(E_BAD_FIELD, field, "must be a bool"); return false; }
  return true;
}
/** Element i of an f32 payload (a bin of the request: any alignment, model-io.ts). */
function f32At(p: usize, i: u32): f32 { return ldF32(p + (<usize>i << 2)); }
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
    } else if (mpStrIs("tauMem")) { if (!readNum("layers.tauMem", false, l)) return errCode; setSt(l, SL_TAUMEM, vF64); }
    else if (mpStrIs("tauAdapt")) { if (!readNum("layers.tauAdapt", false, l)) return errCode; setSt(l, SL_TAUADAPT, vF64); }
    else if (mpStrIs("alpha")) { if (!readNum("layers.alpha", false, l)) return errCode; setSt(l, SL_ALPHA, vF64); }
    else if (mpStrIs("rho")) { if (!readNum("layers.rho", false, l)) return errCode; setSt(l, SL_RHO, vF64); }
    else if (mpStrIs("vTh")) { if (!readNum("layers.vTh", false, l)) return errCode; setSt(l, SL_VTH, vF64); }
    else if (mpStrIs("gamma")) { if (!readNum("layers.gamma", true, l)) return errCode; setSt(l, SL_GAMMA, vF64); }
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
    else if (mpStrIs("dt")) { if (!readNum("dt", false)) return errCode; dt = vF64; }
    else if (mpStrIs("tauOut")) { if (!readNum("tauOut", false)) return errCode; tauOut = vF64; }
    else if (mpStrIs("kappa")) { if (!readNum("kappa", false)) return errCode; kappa = vF64; }
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

/** Reads WRITE's {p, o, d} or READ/GRADS' {p, o, n}, then checks there is a model; false with the error set. */
function readIdRequest(write: bool): bool {
  if (!readPOND(!write, write)) return false;
  if (write && !fHasD) { fail(E_BAD_FIELD, "d", "missing"); return false; }
  if (!configured) { fail(E_NOT_CONFIGURED, "", "OSTL: CONFIGURE the stack first"); return false; }
  return true;
}

function hWrite(): i32 {
  if (!readIdRequest(true)) return errCode;
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
  if (!readIdRequest(false)) return errCode;
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
    for (let i: u32 = 0; i < cnt; i++) stF32(dst + (<usize>i << 2), load<f32>(idAddr(fP, grad, <i32>(fO + i))));
  }
  return H_DONE;
}

// ---------------------------------------------------------------- RUN
function hRun(): i32 {
  if (!readRun(false, 7)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "OSTL: RUN before CONFIGURE");
  if (!checkRun(<u32>cfgNIn(), <u32>cfgNOut(), 0)) return errCode;
  if (!runRs && trial == TRIAL_ENDED) return fail(E_BAD_VALUE, "rs", "the trial has ended (RUN end): start the next one with rs");
  // response: n, t, the requested arrays (sc and z over every layer's neurons), loss at `end`
  if (!beginRun(<u32>cfgNIn(), <u32>cfgNOut(), <u32>nAll())) return H_DONE; // the writer overflowed: TOO_LARGE, nothing run
  if (runRs) {
    osReset();
    trial = TRIAL_NEW;
  }
  return runSome();
}

/** Synapse-steps of work per poll (at least one step), as e-prop's RUN (device/HAL.md). */
const WORK_PER_POLL: u64 = 1 << 18;

/** Records this step's spikes of every layer (neuron j of layer l is unit sum_{l'<l} n_l' + j of `sc` and `z`). */
function recordSpikes(): void {
  let bit: u32 = 0;
  for (let l = 0; l < nLayers(); l++) {
    const pZ = osPtr(O_Z, l), nl = <u32>layerN(l);
    for (let j: u32 = 0; j < nl; j++, bit++) if (load<f32>(pZ + (<usize>j << 2)) != 0) stepSpike(bit);
  }
}

/** Advances the RUN by a bounded amount of work; finishes the response when the last step is done. */
function runSome(): i32 {
  const pAct = osPtr(O_ACT, 0), pTarget = osPtr(O_TARGET, 0), pY = osPtr(O_Y, 0);
  let perStep: u64 = <u64>cfgNOut() * <u64>nTop() + 1;
  for (let l = 0; l < nLayers(); l++) perStep += <u64>(nPrev(l) + 1) * <u64>layerN(l);
  let budget: u64 = WORK_PER_POLL;
  let more = true;
  while (more && budget > 0) {
    const mask = stepInputs(pAct, pTarget);
    if (runLearn) osStep(mask);
    else osForward(mask);
    stepOutputs(pY);
    if (wantsSpikes()) recordSpikes();
    more = stepDone();
    budget = budget > perStep ? budget - perStep : 0;
  }
  trial = TRIAL_OPEN;
  if (more) return H_PENDING;
  endRun(<u32>osSteps());
  if (runEnd) {
    const loss = osFinish();
    trial = TRIAL_ENDED;
    mpWriteStr("loss");
    mpWriteF64(loss);
  }
  return H_DONE;
}

/** The next slice of a pending RUN (the writer is at the body start again). */
function hContinue(): i32 {
  return resumeRun() ? runSome() : errCode;
}

// ---------------------------------------------------------------- APPLY
function hApply(): i32 {
  const n = mpReadMap();
  let opt: u32 = 0, lr: f64 = NaN, b1: f64 = 0.9, b2: f64 = 0.999, eps: f64 = 1e-8;
  let wMin: f64 = NaN, wMax: f64 = NaN, k: u32 = 0, adamField = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("opt")) { if (!mpReadU32(1)) return fail(E_BAD_FIELD, "opt", "must be 0 (gd) or 1 (adam)"); opt = vU32; }
    else if (mpStrIs("lr")) { if (!readNum("lr", false)) return errCode; lr = vF64; }
    else if (mpStrIs("b1") || mpStrIs("b2")) {
      const isB1 = mpStrIs("b1");
      if (!readNum(isB1 ? "b1" : "b2", true)) return errCode;
      if (vF64 >= 1) return fail(E_BAD_VALUE, isB1 ? "b1" : "b2", "must be in [0, 1)");
      if (isB1) b1 = vF64; else b2 = vF64;
      adamField = true;
    }
    else if (mpStrIs("eps")) { if (!readNum("eps", false)) return errCode; eps = vF64; adamField = true; }
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
  return writeSizeK(CK_PREFIX + osArenaBytes(), <u32>osUpdates());
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

function hCheckpoint(): i32 {
  if (!readCheckpoint()) return errCode;
  if (ckOp == 1) return ckHasD ? ckWrite(ckO, ckD, ckDLen) : fail(E_BAD_FIELD, "d", "missing");
  if (ckOp == 3) return ckLoad();
  if (!configured) return fail(E_NOT_CONFIGURED, "", "OSTL: CHECKPOINT before CONFIGURE");
  if (ckOp == 4) return ckSizeK();
  if (ckOp == 2) { // SAVE
    ckFillPrefix();
    const r = saveBlob(ckHdr, CK_PREFIX, arenaStart(), osArenaBytes());
    return r != H_DONE ? r : ckSizeK();
  }
  if (ckO < CK_PREFIX) ckFillPrefix(); // READ
  return readBlobChunk(ckHdr, CK_PREFIX, arenaStart(), CK_PREFIX + osArenaBytes());
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
