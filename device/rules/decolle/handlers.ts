// DECOLLE's protocol handlers (DECOLLE.md; PROTOCOL.md §4 "DECOLLE"): CONFIGURE, WRITE, READ,
// RUN, APPLY, GRADS, CHECKPOINT and RESET on the DECOLLE kernel's arena (kernel.ts, layout.ts).
// The firmware reaches them through decolleRule(op, arg), registered in device/firmware/rules.ts;
// the seam's contract (ops, H_DONE/H_PENDING, no allocation) is device/firmware/rule.ts, and
// device/rules/eprop/handlers.ts is the twin for e-prop. Every request is checked whole (shapes
// against the configured model, NaN/Inf, ranges) before any state changes; nothing allocates.
//
// The arena is the single source of truth (sizes, constants, weights, traces, gradients, Adam
// moments, counters, per-step update settings): this file keeps only what the protocol adds
// (the decolleUpdate mode and the count of learning trials), which goes into the checkpoint's
// own header. CONFIGURE mirrors host/rules/decolle/wasm.ts (same flags, same f32 of the host's
// float64 constants, same order), so a case through the firmware equals `--backend wasm` bit for bit.
import {
  mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool, mpReadBin,
  tPtr, tLen, T_STR, T_ARRAY,
  mpWriteMap, mpWriteArray, mpWriteStr, mpWriteUint, mpWriteF64, mpWriteBinReserve, mpReserve, mpWritten,
  ldF32, stF32, ldU16, stU16, stU32,
} from "../../firmware/msgpack";
import { allFinite, readCheckpoint, ckOp, ckO, ckD, ckDLen, ckHasD, readBlobChunk } from "../../firmware/model-io";
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
  dcShape, dcShapeLayer, dcPlan, dcConfigure, dcAttach, dcLayerConstants, dcPtr, dcLayerPtr, dcStride,
  dcArenaBytes, dcSteps, dcReset, dcStep, dcForward, dcFinish, dcLayerLoss, dcApplyGd, dcApplyAdam,
  dcResetOptimizer, dcStepUpdate,
} from "./kernel";
import {
  DC_MAX_LAYERS, DC_F_SMOOTHL1, DC_F_CE, DC_F_SIGMOID, DC_F_MEAN, DC_F_ADAM, DC_X, DC_TARGET, DC_LOSS,
  H_L, H_NIN, H_NOUT, H_FLAGS, H_STEPS, H_MASKED, H_ADAMN, H_UPDATES, H_UPD_OPT, H_UPD_LR, H_UPD_B1, H_UPD_B2,
  H_UPD_EPS, H_UPD_CLIP, H_UPD_WMIN, H_UPD_WMAX, H_UPD_DIV, HEADER_BYTES, ENTRY_BYTES, T_N, T_NPRE,
  T_ALPHA, T_BETA, T_ALPHARP, T_WRP, T_CQ, T_CP, T_REG,
  LF_W, LF_B, LF_G, LF_BG, LF_VW, LF_VB, LF_GW, LF_GB, LF_S, LF_IDX, LF_Y, LF_ERR, layerFieldElems,
} from "./layout";

// ---------------------------------------------------------------- model state
let configured: bool = false;
/** The arena's base (arenaStart()); valid while configured or being restored. */
let base: usize = 0;
/** Cached from the arena header by adoptArena(). */
let nLayers: i32 = 0, nIn: i32 = 0, nOut: i32 = 0, flags: i32 = 0;
/** decolleUpdate "step": APPLY arms the kernel's per-step update instead of applying the trial's gradient. */
let stepMode: bool = false;
/** Trials ended (RUN `end`) in which some step learned: CHECKPOINT `k` under decolleUpdate "step". */
let trials: u32 = 0;
/** Some step of the current trial learned (so its `end` counts in `trials`). */
let trialLearned: bool = false;

/** The rule's entry: the seam of device/firmware/rule.ts. */
export function decolleRule(op: i32, arg: u32): i32 {
  switch (op) {
    case M_CONFIGURE: return hConfigure();
    case M_WRITE: return hWrite();
    case M_READ: return hRead();
    case M_RUN: return hRun();
    case M_APPLY: return hApply();
    case M_GRADS: return hGrads();
    case M_CHECKPOINT: return hCheckpoint();
    case OP_NAME: return <i32>changetype<usize>("decolle");
    case OP_CONTINUE: return hContinue();
    case OP_RESET: return hReset(arg);
    case OP_BYTES: return configured ? <i32>dcArenaBytes() : 0;
    case OP_CAPS: return writeCaps(arg);
  }
  return fail(E_INTERNAL, "", "decolle: unknown op %", <u32>op);
}

/** HELLO caps of DECOLLE (the firmware adds its own after them). */
function writeCaps(write: u32): i32 {
  if (write == 0) return 1;
  mpWriteStr("decolle");
  return H_DONE;
}

@inline function hdrU32(o: i32): u32 { return load<u32>(base + <usize>o); }
@inline function hdrF32(o: i32): f32 { return load<f32>(base + <usize>o); }
@inline function entryU32(l: i32, o: i32): i32 { return <i32>load<u32>(base + <usize>HEADER_BYTES + <usize>(l * ENTRY_BYTES) + <usize>o); }
@inline function entryF32(l: i32, o: i32): f32 { return load<f32>(base + <usize>HEADER_BYTES + <usize>(l * ENTRY_BYTES) + <usize>o); }
/** n_l of layer l. */
@inline function layerN(l: i32): i32 { return entryU32(l, T_N); }
/** n_{l-1} of layer l. */
@inline function layerNPre(l: i32): i32 { return entryU32(l, T_NPRE); }

/** Caches the sizes of the arena at `base` (after dcConfigure or dcAttach). */
function adoptArena(): void {
  nLayers = <i32>hdrU32(H_L);
  nIn = <i32>hdrU32(H_NIN);
  nOut = <i32>hdrU32(H_NOUT);
  flags = <i32>hdrU32(H_FLAGS);
}

@inline function isDecay(x: f64): bool { return x >= 0 && x < 1; }
@inline function isUnit32(x: f32): bool { return x >= 0 && x < 1; }
@inline function isPos32(x: f32): bool { return x > 0 && isFinite(x); }

// ---------------------------------------------------------------- CONFIGURE
// Staged layers: n (u32 at 0), then alpha, beta, alpharp, wrp, reg as f64 (8, 16, 24, 32, 40).
const LSTAGE: usize = memory.data(DC_MAX_LAYERS * 48, 8);
const LS_BYTES: i32 = 48;
const LS_ALPHA: i32 = 8, LS_BETA: i32 = 16, LS_ALPHARP: i32 = 24, LS_WRP: i32 = 32, LS_REG: i32 = 40;
@inline function stageAt(l: i32, o: i32): usize { return LSTAGE + <usize>(l * LS_BYTES + o); }

/** Reads a str among up to three choices: 0, 1, 2, or -1 with the error set. */
function readChoice(field: string, a: string, b: string, c: string = ""): i32 {
  if (mpNext() != T_STR) { fail(E_BAD_FIELD, field, "must be a string"); return -1; }
  if (mpStrIs(a)) return 0;
  if (mpStrIs(b)) return 1;
  if (c.length > 0 && mpStrIs(c)) return 2;
  fail(E_BAD_VALUE, field, "unknown choice");
  return -1;
}

function readDim(field: string): bool {
  if (!mpReadU32()) { fail(E_BAD_FIELD, field, "must be an unsigned integer"); return false; }
  if (vU32 < 1 || vU32 > 65535) { fail(E_BAD_VALUE, field, "must be in 1..65535 (got %)", vU32); return false; }
  return true;
}

/** A number field of layer l (vF64). */
function readLayerNum(field: string, l: i32): bool {
  if (!mpReadNum()) { fail(E_BAD_FIELD, field, "layers[%]: must be a number", <u32>l); return false; }
  if (!isFinite(vF64)) { fail(E_BAD_VALUE, field, "layers[%]: must be finite", <u32>l); return false; }
  return true;
}

/** Reads layers[l] = {n, alpha?, beta?, alpharp?, wrp?, reg?} into the stage (decolle-public defaults). */
function readLayer(l: i32): i32 {
  const m = mpReadMap();
  if (m < 0) return fail(E_BAD_FIELD, "layers", "layers[%] must be a map {n, alpha, beta, alpharp, wrp, reg}", <u32>l);
  store<u32>(stageAt(l, 0), 0);
  store<f64>(stageAt(l, LS_ALPHA), 0.9);
  store<f64>(stageAt(l, LS_BETA), 0.85);
  store<f64>(stageAt(l, LS_ALPHARP), 0.65);
  store<f64>(stageAt(l, LS_WRP), 1.0);
  store<f64>(stageAt(l, LS_REG), 0);
  for (let i = 0; i < m; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("n")) {
      if (!mpReadU32()) return fail(E_BAD_FIELD, "layers.n", "layers[%].n must be an unsigned integer", <u32>l);
      if (vU32 < 1 || vU32 > 65535) return fail(E_BAD_VALUE, "layers.n", "layers[%].n must be in 1..65535 (got %)", <u32>l, vU32);
      store<u32>(stageAt(l, 0), vU32);
    } else if (mpStrIs("alpha") || mpStrIs("beta") || mpStrIs("alpharp")) {
      const o = mpStrIs("alpha") ? LS_ALPHA : mpStrIs("beta") ? LS_BETA : LS_ALPHARP;
      const f = o == LS_ALPHA ? "layers.alpha" : o == LS_BETA ? "layers.beta" : "layers.alpharp";
      if (!readLayerNum(f, l)) return errCode;
      if (!isDecay(vF64)) return fail(E_BAD_VALUE, f, "layers[%]: must be a decay factor in [0, 1)", <u32>l);
      store<f64>(stageAt(l, o), vF64);
    } else if (mpStrIs("wrp")) {
      if (!readLayerNum("layers.wrp", l)) return errCode;
      store<f64>(stageAt(l, LS_WRP), vF64);
    } else if (mpStrIs("reg")) {
      if (!readLayerNum("layers.reg", l)) return errCode;
      if (vF64 < 0) return fail(E_BAD_VALUE, "layers.reg", "layers[%]: must be >= 0", <u32>l);
      store<f64>(stageAt(l, LS_REG), vF64);
    } else return failKey(E_BAD_FIELD, "unknown field in a layer (n, alpha, beta, alpharp, wrp, reg)");
  }
  if (load<u32>(stageAt(l, 0)) == 0) return fail(E_BAD_FIELD, "layers.n", "layers[%].n missing", <u32>l);
  return H_DONE;
}

/** Upper bound of the arena bytes of the staged layers (u64: no overflow for any u16 sizes). */
function arenaBound(L: i32, nI: u64, nO: u64, adam: bool): u64 {
  let b: u64 = <u64>HEADER_BYTES + <u64>(L * ENTRY_BYTES) + (nI + nO) * 4 + <u64>L * 8 + 48;
  let nPre = nI;
  for (let l = 0; l < L; l++) {
    const S = <u64>load<u32>(stageAt(l, 0)) + 3; // n rounded up to any lane count
    const elems = nPre * S * (adam ? 4 : 2) + nO * S + S * (adam ? 12 : 10) + nPre * 2 + nO * 3;
    b += elems * 4 + 22 * 16; // + alignment of every field
    nPre = S;
  }
  return b;
}

function hConfigure(): i32 {
  const n = mpReadMap();
  let nI: u32 = 0, nO: u32 = 0, L: i32 = 0;
  let loss = 0, surrogate = 0, scale = 0, mean = false, adam = false, step = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (isRuleKey()) continue;
    if (mpStrIs("nIn")) { if (!readDim("nIn")) return errCode; nI = vU32; }
    else if (mpStrIs("nOut")) { if (!readDim("nOut")) return errCode; nO = vU32; }
    else if (mpStrIs("layers")) {
      if (mpNext() != T_ARRAY) return fail(E_BAD_FIELD, "layers", "must be an array of maps {n, alpha, beta, alpharp, wrp, reg}");
      if (tLen < 1 || tLen > <u32>DC_MAX_LAYERS) return fail(E_BAD_VALUE, "layers", "must hold 1..% layers (got %)", <u32>DC_MAX_LAYERS, tLen);
      L = <i32>tLen;
      for (let l = 0; l < L; l++) if (readLayer(l) != H_DONE) return errCode;
    }
    else if (mpStrIs("loss")) { loss = readChoice("loss", "mse", "smoothL1", "ce"); if (loss < 0) return errCode; }
    else if (mpStrIs("surrogate")) { surrogate = readChoice("surrogate", "box", "sigmoid"); if (surrogate < 0) return errCode; }
    else if (mpStrIs("traceScale")) { scale = readChoice("traceScale", "one", "oneMinus", "tau"); if (scale < 0) return errCode; }
    else if (mpStrIs("lossReduction")) { const c = readChoice("lossReduction", "sum", "mean"); if (c < 0) return errCode; mean = c == 1; }
    else if (mpStrIs("optimizer")) { const c = readChoice("optimizer", "gd", "adam"); if (c < 0) return errCode; adam = c == 1; }
    else if (mpStrIs("decolleUpdate")) { const c = readChoice("decolleUpdate", "trial", "step"); if (c < 0) return errCode; step = c == 1; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (nI == 0) return fail(E_BAD_FIELD, "nIn", "missing");
  if (nO == 0) return fail(E_BAD_FIELD, "nOut", "missing");
  if (L == 0) return fail(E_BAD_FIELD, "layers", "missing");
  // flags exactly as host/rules/decolle/plan.ts decolleFlags()
  let f: i32 = 0;
  if (loss == 1) f |= DC_F_SMOOTHL1;
  if (loss == 2) f |= DC_F_CE;
  if (surrogate == 1) f |= DC_F_SIGMOID;
  if (mean) f |= DC_F_MEAN;
  if (adam) f |= DC_F_ADAM;

  const at = arenaStart();
  const have: u64 = (<u64>memory.size() << 16) - <u64>at;
  const bound = arenaBound(L, <u64>nI, <u64>nO, adam);
  if (bound > 0x7fff0000) return fail(E_NO_MEMORY, "", "model needs about % MiB; board has % bytes free", <u32>(bound >> 20), <u32>have);
  dcShape(L, <i32>nI, <i32>nO, f);
  for (let l = 0; l < L; l++) dcShapeLayer(l, <i32>load<u32>(stageAt(l, 0)));
  const need = dcPlan();
  if (!grow(at, need)) return fail(E_NO_MEMORY, "", "model needs % bytes; board has % bytes free", need, <u32>have);

  // from here on the request is accepted
  base = at;
  dcConfigure(base);
  for (let l = 0; l < L; l++) {
    const alpha = load<f64>(stageAt(l, LS_ALPHA)), beta = load<f64>(stageAt(l, LS_BETA));
    dcLayerConstants(l, <f32>alpha, <f32>beta, <f32>load<f64>(stageAt(l, LS_ALPHARP)), <f32>load<f64>(stageAt(l, LS_WRP)),
      <f32>gain(scale, beta), <f32>gain(scale, alpha), <f32>load<f64>(stageAt(l, LS_REG)));
  }
  adoptArena();
  stepMode = step;
  trials = 0;
  trialLearned = false;
  restoreNext = 0;
  configured = true;
  mpWriteMap(2);
  mpWriteStr("bytes");
  mpWriteUint(dcArenaBytes());
  mpWriteStr("ram");
  mpWriteUint(hFreeRam());
  return H_DONE;
}

/** Input gain of traceScale (0 "one", 1 "oneMinus", 2 "tau") for a decay, in float64 (host/rules/decolle/schema.ts traceGains). */
function gain(scale: i32, decay: f64): f64 {
  return scale == 1 ? 1 - decay : scale == 2 ? 1 / (1 - decay) : 1;
}

/** Makes [at, at + bytes) linear memory (grows at configure/restore time only); false if it cannot. */
function grow(at: usize, bytes: u32): bool {
  const end: u64 = <u64>at + <u64>bytes;
  const size: u64 = <u64>memory.size() << 16;
  return end <= size || memory.grow(<i32>((end - size + 0xffff) >> 16)) >= 0;
}

// ---------------------------------------------------------------- WRITE / READ / GRADS
// Parameter ids (PROTOCOL.md "DECOLLE"): p = 4 l + f, f 0 w [n_l][n_{l-1}], 1 b [n_l],
// 2 G [nOut][n_l], 3 bG [nOut] (row-major as in the case); GRADS: f 0 grad w, 1 grad b.
const ID_W: u32 = 0, ID_B: u32 = 1, ID_G: u32 = 2, ID_BG: u32 = 3;

let fP: u32 = 0, fO: u32 = 0, fN: u32 = 0, fHasN: bool = false;
let fD: usize = 0, fDLen: u32 = 0, fHasD: bool = false;

/** Reads {p, o, n?, d?}; false with the error set. */
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

/** Element count of id p (parameters, or gradients if grad); -1 with the error set if the model has no such id. */
function idCount(p: u32, grad: bool): i32 {
  const l = <i32>(p >> 2), f = p & 3;
  if (p >= <u32>(nLayers * 4)) {
    fail(E_BAD_VALUE, "p", "unknown id % (this model's ids are 0..%: 4 l + 0 w, 1 b, 2 G, 3 bG)", p, <u32>(nLayers * 4 - 1));
    return -1;
  }
  if (grad && f >= ID_G) {
    fail(E_UNSUPPORTED, "p", "id % is a readout: readouts are fixed and have no gradient", p);
    return -1;
  }
  if (f == ID_W) return layerN(l) * layerNPre(l);
  if (f == ID_B) return layerN(l);
  return f == ID_G ? nOut * layerN(l) : nOut;
}

/** Address of element e of id p (row-major host index → the arena's pre-major / padded layout). */
function idAddr(p: u32, grad: bool, e: i32): usize {
  const l = <i32>(p >> 2), f = p & 3;
  const S = dcStride(l);
  if (f == ID_W) {
    const nPre = layerNPre(l);
    return dcLayerPtr(l, grad ? LF_GW : LF_W) + (<usize>((e % nPre) * S + e / nPre) << 2);
  }
  if (f == ID_B) return dcLayerPtr(l, grad ? LF_GB : LF_B) + (<usize>e << 2);
  if (f == ID_G) {
    const n = layerN(l);
    return dcLayerPtr(l, LF_G) + (<usize>((e / n) * S + e % n) << 2);
  }
  return dcLayerPtr(l, LF_BG) + (<usize>e << 2);
}

function hWrite(): i32 {
  if (!readPOND(false, true)) return errCode;
  if (!fHasD) return fail(E_BAD_FIELD, "d", "missing");
  if (!configured) return fail(E_NOT_CONFIGURED, "", "WRITE before CONFIGURE");
  const total = idCount(fP, false);
  if (total < 0) return errCode;
  if ((fDLen & 3) != 0) return fail(E_BAD_SHAPE, "d", "% bytes is not a whole number of f32", fDLen);
  const cnt = fDLen >> 2;
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "d", "offset + count exceeds the parameter's % elements", <u32>total);
  for (let i: u32 = 0; i < cnt; i++) {
    if (!isFinite(ldF32(fD + (<usize>i << 2)))) return fail(E_BAD_VALUE, "d", "element % is NaN or infinite", i);
  }
  for (let i: u32 = 0; i < cnt; i++) store<f32>(idAddr(fP, false, <i32>(fO + i)), ldF32(fD + (<usize>i << 2))); // payload: any alignment
  mpWriteMap(2);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("n");
  mpWriteUint(cnt);
  return H_DONE;
}

function readOut(grad: bool): i32 {
  const total = idCount(fP, grad);
  if (total < 0) return errCode;
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
    for (let i: u32 = 0; i < cnt; i++) stF32(dst + (<usize>i << 2), load<f32>(idAddr(fP, grad, <i32>(fO + i))));
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
/** Neurons of all layers (the width of `sc` and of a `z` row). */
function allNeurons(): u32 {
  let N: u32 = 0;
  for (let l = 0; l < nLayers; l++) N += <u32>layerN(l);
  return N;
}

/** A bin of `bytes` in the response (0 if it cannot fit: the dispatcher then answers TOO_LARGE). */
function reserveBin(bytes: u64): usize {
  return mpWriteBinReserve(bytes > 0xffffffff ? 0xffffffff : <u32>bytes);
}

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
    else if (mpStrIs("rs")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "rs", "must be a bool"); rs = vBool; }
    else if (mpStrIs("end")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "end", "must be a bool"); end = vBool; }
    else if (mpStrIs("learn")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "learn", "must be a bool"); learn = vBool; learnSet = true; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "RUN before CONFIGURE");
  if (steps == 0) return fail(E_BAD_FIELD, "n", "missing or 0");
  if (!hasX) return fail(E_BAD_FIELD, "x", "missing");
  const xRow: u32 = xf == 0 ? (<u32>nIn + 7) >> 3 : <u32>nIn * 4;
  if (<u64>xLen != <u64>steps * xRow) return fail(E_BAD_SHAPE, "x", "must be n x % bytes (got % bytes)", xRow, xLen);
  if (hasTg && <u64>tgLen != <u64>steps * <u64>nOut * 4) return fail(E_BAD_SHAPE, "tg", "must be n x nOut f32 (nOut = %, got % bytes)", <u32>nOut, tgLen);
  if (hasM && mLen != (steps + 7) >> 3) return fail(E_BAD_SHAPE, "m", "must be a bitmap of n bits (% bytes)", (steps + 7) >> 3);
  if (xf == 1 && !allFinite(xPtr, xLen >> 2)) return fail(E_BAD_VALUE, "x", "contains NaN or infinity");
  if (hasTg && !allFinite(tgPtr, tgLen >> 2)) return fail(E_BAD_VALUE, "tg", "contains NaN or infinity");
  if (!learnSet) learn = hasTg;
  if (learn && stepMode && load<i32>(base + <usize>H_UPD_OPT) < 0) {
    return fail(E_BAD_VALUE, "learn", "decolleUpdate \"step\" applies an update after every step: send APPLY first (it sets that update's optimizer and lr), or learn: false");
  }

  // response: n, t, then the requested arrays, then loss and layerLoss (when the trial ends)
  const N = allNeurons();
  mpWriteMap(2 + ((o & 1) != 0 ? 1 : 0) + ((o & 2) != 0 ? 1 : 0) + ((o & 4) != 0 ? 1 : 0) + (end ? 2 : 0));
  mpWriteStr("n");
  mpWriteUint(steps);
  // t is known only after the steps: reserve a fixed-size uint32
  mpWriteStr("t");
  const tAt = mpReserve(5);
  let yAt: usize = 0, scAt: usize = 0, zAt: usize = 0;
  const zRow: u32 = (N + 7) >> 3;
  if ((o & 1) != 0) { mpWriteStr("y"); yAt = reserveBin(<u64>steps * <u64>nLayers * <u64>nOut * 4); }
  if ((o & 2) != 0) { mpWriteStr("sc"); scAt = reserveBin(<u64>N * 2); }
  if ((o & 4) != 0) { mpWriteStr("z"); zAt = reserveBin(<u64>steps * <u64>zRow); }
  if (tAt == 0 || ((o & 1) != 0 && yAt == 0) || ((o & 2) != 0 && scAt == 0) || ((o & 4) != 0 && zAt == 0)) {
    return H_DONE; // the writer overflowed: the dispatcher answers TOO_LARGE (nothing was run)
  }
  if (scAt != 0) memory.fill(scAt, 0, <usize>N * 2);
  if (zAt != 0) memory.fill(zAt, 0, <usize>steps * zRow);

  if (rs) {
    dcReset();
    trialLearned = false;
  }
  if (learn) trialLearned = true;
  // the run continues over several polls if it is long (bounded work per poll, device/HAL.md)
  let work: u64 = 1;
  for (let l = 0; l < nLayers; l++) work += <u64>(layerNPre(l) + nOut) * <u64>layerN(l) * (learn ? 2 : 1);
  rSteps = steps; rT = 0; rXf = xf; rXRow = xRow; rX = xPtr; rTg = hasTg ? tgPtr : 0; rM = hasM ? mPtr : 0;
  rLearn = learn; rEnd = end; rYAt = yAt; rScAt = scAt; rZAt = zAt; rZRow = zRow; rTAt = tAt; rPerStep = work;
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
let rPerStep: u64 = 0;

/** Synapse-steps of work per poll (at least one step): ~15 ms on a Cortex-M4 at 180 MHz, as e-prop's RUN. */
const WORK_PER_POLL: u64 = 1 << 18;

/** Advances the RUN by a bounded amount of work; finishes the response when the last step is done. */
function runSome(): i32 {
  const pX = dcPtr(DC_X), pTarget = dcPtr(DC_TARGET);
  const tgRow = <usize>nOut << 2;
  let budget: u64 = WORK_PER_POLL;
  do {
    const t = rT;
    if (rXf == 0) {
      const row = rX + <usize>(t * rXRow);
      for (let i = 0; i < nIn; i++) {
        store<f32>(pX + (<usize>i << 2), ((load<u8>(row + <usize>(i >> 3)) >> <u8>(i & 7)) & 1) != 0 ? <f32>1 : <f32>0);
      }
    } else {
      memory.copy(pX, rX + <usize>t * (<usize>nIn << 2), <usize>nIn << 2);
    }
    if (rTg != 0) memory.copy(pTarget, rTg + <usize>t * tgRow, tgRow);
    else memory.fill(pTarget, 0, tgRow);
    const mask: f32 = rM != 0 ? <f32>((load<u8>(rM + <usize>(t >> 3)) >> <u8>(t & 7)) & 1) : 1;
    if (rLearn) dcStep(mask);
    else dcForward(mask);
    if (rYAt != 0 || rScAt != 0 || rZAt != 0) reportStep(t);
    rT++;
    budget = budget > rPerStep ? budget - rPerStep : 0;
  } while (rT < rSteps && budget > 0);
  if (rT < rSteps) return H_PENDING;
  rActive = false;
  // t as uint32 (0xce + big-endian): a valid, if not minimal, MessagePack uint
  store<u8>(rTAt, 0xce);
  stU32(rTAt + 1, bswap<u32>(<u32>dcSteps()));
  if (rEnd) {
    const loss = dcFinish();
    if (trialLearned) trials++;
    trialLearned = false;
    mpWriteStr("loss");
    mpWriteF64(loss);
    mpWriteStr("layerLoss");
    mpWriteArray(<u32>nLayers);
    for (let l = 0; l < nLayers; l++) mpWriteF64(dcLayerLoss(l));
  }
  return H_DONE;
}

/** Step t's readouts y of every layer, and its spikes into the counts and the raster. */
function reportStep(t: u32): void {
  const yRow = <usize>nOut << 2;
  let j0: u32 = 0;
  for (let l = 0; l < nLayers; l++) {
    if (rYAt != 0) memory.copy(rYAt + (<usize>t * <usize>nLayers + <usize>l) * yRow, dcLayerPtr(l, LF_Y), yRow);
    const pS = dcLayerPtr(l, LF_S);
    const n = layerN(l);
    for (let j = 0; j < n; j++) {
      if (load<f32>(pS + (<usize>j << 2)) == 0) continue;
      const k = j0 + <u32>j;
      if (rScAt != 0) {
        const a = rScAt + (<usize>k << 1);
        const c = ldU16(a); // the response buffer: any alignment
        if (c != 0xffff) stU16(a, c + 1);
      }
      if (rZAt != 0) {
        const a = rZAt + <usize>(t * rZRow) + <usize>(k >> 3);
        store<u8>(a, load<u8>(a) | <u8>(1 << <u8>(k & 7)));
      }
    }
    j0 += <u32>n;
  }
}

/** Called by the dispatcher from each poll() while a request is pending (the writer is at the body start). */
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
  let opt: u32 = 0, lr: f64 = 0, hasLr = false, b1: f64 = 0.9, b2: f64 = 0.999, eps: f64 = 1e-8;
  let wMin: f64 = NaN, wMax: f64 = NaN, k: u32 = 0, div: f64 = 1, hasDiv = false;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("opt")) { if (!mpReadU32(1)) return fail(E_BAD_FIELD, "opt", "must be 0 (gd) or 1 (adam)"); opt = vU32; }
    else if (mpStrIs("lr")) { if (!mpReadNum()) return fail(E_BAD_FIELD, "lr", "must be a number"); lr = vF64; hasLr = true; }
    else if (mpStrIs("b1")) { if (!mpReadNum()) return fail(E_BAD_FIELD, "b1", "must be a number"); b1 = vF64; }
    else if (mpStrIs("b2")) { if (!mpReadNum()) return fail(E_BAD_FIELD, "b2", "must be a number"); b2 = vF64; }
    else if (mpStrIs("eps")) { if (!mpReadNum()) return fail(E_BAD_FIELD, "eps", "must be a number"); eps = vF64; }
    else if (mpStrIs("wMin")) { if (!mpReadNum() || !isFinite(<f32>vF64)) return fail(E_BAD_FIELD, "wMin", "must be a finite float32"); wMin = vF64; }
    else if (mpStrIs("wMax")) { if (!mpReadNum() || !isFinite(<f32>vF64)) return fail(E_BAD_FIELD, "wMax", "must be a finite float32"); wMax = vF64; }
    else if (mpStrIs("k")) { if (!mpReadU32(0x7fffffff) || vU32 == 0) return fail(E_BAD_FIELD, "k", "must be an integer in 1..2^31-1"); k = vU32; }
    else if (mpStrIs("div")) { if (!mpReadNum()) return fail(E_BAD_FIELD, "div", "must be a number"); div = vF64; hasDiv = true; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "APPLY before CONFIGURE");
  if (!hasLr) return fail(E_BAD_FIELD, "lr", "missing");
  // checked as the float32 the kernel uses: 1e-50 would be a learning rate of 0
  if (!isPos32(<f32>lr)) return fail(E_BAD_VALUE, "lr", "must be finite and > 0 (in float32)");
  const clip = !isNaN(wMin) || !isNaN(wMax);
  if (clip && (isNaN(wMin) || isNaN(wMax) || wMin > wMax)) return fail(E_BAD_VALUE, "wMin", "clipping needs both wMin <= wMax");
  if (clip && opt == 1) return fail(E_BAD_FIELD, "wMin", "clipping is for gd (opt 0) only");
  if (opt == 1) {
    if ((flags & DC_F_ADAM) == 0) return fail(E_BAD_VALUE, "opt", "the model was configured without optimizer \"adam\"");
    if (!isUnit32(<f32>b1)) return fail(E_BAD_VALUE, "b1", "must be in [0, 1) (in float32)");
    if (!isUnit32(<f32>b2)) return fail(E_BAD_VALUE, "b2", "must be in [0, 1) (in float32)");
    if (!isPos32(<f32>eps)) return fail(E_BAD_VALUE, "eps", "must be finite and > 0 (in float32)");
  }
  if (stepMode) {
    if (k != 0) return fail(E_BAD_FIELD, "k", "only with decolleUpdate \"trial\" (per-step Adam counts its own steps)");
    if (!hasDiv && (flags & DC_F_MEAN) != 0) {
      return fail(E_BAD_FIELD, "div", "missing: lossReduction \"mean\" divides each step's gradient by M, the masked steps of the trial");
    }
    if (!isPos32(<f32>div)) return fail(E_BAD_VALUE, "div", "must be finite and > 0 (in float32)");
    dcStepUpdate(<i32>opt, <f32>lr, <f32>b1, <f32>b2, <f32>eps, clip, clip ? <f32>wMin : 0, clip ? <f32>wMax : 0, <f32>div);
  } else {
    if (hasDiv) return fail(E_BAD_FIELD, "div", "only with decolleUpdate \"step\" (a trial's gradient is already reduced)");
    if (opt == 0) dcApplyGd(<f32>lr, clip, clip ? <f32>wMin : 0, clip ? <f32>wMax : 0);
    else dcApplyAdam(<f32>lr, <f32>b1, <f32>b2, <f32>eps, <i32>(k != 0 ? k : hdrU32(H_ADAMN) + 1));
  }
  mpWriteMap(1);
  mpWriteStr("k");
  mpWriteUint(!stepMode && opt == 1 ? hdrU32(H_ADAMN) : hdrU32(H_UPDATES));
  return H_DONE;
}

// ---------------------------------------------------------------- CHECKPOINT
// Blob = 64-byte header + the kernel's whole arena (which holds sizes, constants, parameters,
// readouts, state, traces, gradients, Adam moments, counters and the per-step update settings):
//   0 'DCCK'  4 version 1  8 total bytes  12 CRC-32C of bytes 16..end (header rest + arena)
//   16 decolleUpdate (0 trial, 1 step)  20 learning trials ended  24 bit 0: the current trial has learned
//   28..63 reserved 0
// A restored arena is taken over with dcAttach (layout checked) and then checked whole
// (arenaTrusted) before the model is usable.
const CK_HDR: u32 = 64;
const CK_MAGIC: u32 = 0x4b434344; // "DCCK" little-endian
const CK_VERSION: u32 = 1;
const ckHdr: usize = memory.data(64, 16);
let restoreNext: u32 = 0;
let restoreTotal: u32 = 0;

function ckSize(): u32 {
  return CK_HDR + dcArenaBytes();
}

/** CHECKPOINT `k`: updates applied (decolleUpdate "trial", as e-prop), or learning trials ended ("step"). */
function ckK(): u32 {
  return stepMode ? trials : hdrU32(H_UPDATES);
}

function ckFillHeader(): void {
  memory.fill(ckHdr, 0, CK_HDR);
  store<u32>(ckHdr, CK_MAGIC);
  store<u32>(ckHdr + 4, CK_VERSION);
  store<u32>(ckHdr + 8, ckSize());
  store<u32>(ckHdr + 16, stepMode ? 1 : 0);
  store<u32>(ckHdr + 20, trials);
  store<u32>(ckHdr + 24, trialLearned ? 1 : 0);
  store<u32>(ckHdr + 12, crc32c(base, dcArenaBytes(), crc32c(ckHdr + 16, CK_HDR - 16)));
}

/** Checks the header in ckHdr and makes room for its arena at arenaStart(); the model is unusable until ckAdopt. */
function ckPlace(avail: u64): i32 {
  if (load<u32>(ckHdr) != CK_MAGIC) return fail(E_STORAGE, "", "no DECOLLE checkpoint (bad magic)");
  if (load<u32>(ckHdr + 4) != CK_VERSION) return fail(E_STORAGE, "", "checkpoint version % is not supported", load<u32>(ckHdr + 4));
  const total = load<u32>(ckHdr + 8);
  if (total < CK_HDR + <u32>HEADER_BYTES || (total & 15) != 0 || total > 0x7fff0000) return fail(E_STORAGE, "", "checkpoint header is corrupt (size %)", total);
  if (<u64>total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes is truncated (% available)", total, <u32>avail);
  configured = false;
  base = arenaStart();
  const have: u64 = (<u64>memory.size() << 16) - <u64>base;
  // at least the largest header + layer table: dcAttach reads the table its header claims before it knows the size is right
  const room = max<u32>(total - CK_HDR, <u32>(HEADER_BYTES + DC_MAX_LAYERS * ENTRY_BYTES));
  if (!grow(base, room)) return fail(E_NO_MEMORY, "", "checkpoint needs % bytes; board has % bytes free", total - CK_HDR, <u32>have);
  return H_DONE;
}

/** After the arena bytes are in place: CRC, layout (dcAttach), then every value; only then is the model usable. */
function ckAdopt(): i32 {
  const arena = load<u32>(ckHdr + 8) - CK_HDR;
  if (crc32c(base, arena, crc32c(ckHdr + 16, CK_HDR - 16)) != load<u32>(ckHdr + 12)) {
    return fail(E_STORAGE, "", "checkpoint CRC mismatch: the model was discarded");
  }
  const mode = load<u32>(ckHdr + 16), learned = load<u32>(ckHdr + 24);
  if (dcAttach(base) != arena || mode > 1 || learned > 1) return fail(E_STORAGE, "", "checkpoint is not a DECOLLE arena of this firmware: the model was discarded");
  adoptArena();
  if (!arenaTrusted()) return fail(E_STORAGE, "", "checkpoint holds out-of-range values (NaN, a decay outside [0, 1), bad optimizer settings): the model was discarded");
  stepMode = mode == 1;
  trials = load<u32>(ckHdr + 20);
  trialLearned = learned == 1;
  configured = true;
  return H_DONE;
}

/** Every value of an attached arena in range: what a hostile or buggy blob could put there. */
function arenaTrusted(): bool {
  if ((flags & ~31) != 0 || (flags & (DC_F_SMOOTHL1 | DC_F_CE)) == (DC_F_SMOOTHL1 | DC_F_CE)) return false;
  // counters: Adam's n + 1 must stay a positive i32 (n = 0 after a wrap would divide by 1 - b^0 = 0)
  if (hdrU32(H_MASKED) > hdrU32(H_STEPS) || hdrU32(H_ADAMN) >= 0x7fffffff) return false;
  const opt = load<i32>(base + <usize>H_UPD_OPT);
  if (opt < -1 || opt > 1 || (opt == 1 && (flags & DC_F_ADAM) == 0)) return false;
  if (opt >= 0) {
    const clip = hdrU32(H_UPD_CLIP);
    if (!isPos32(hdrF32(H_UPD_LR)) || !isPos32(hdrF32(H_UPD_DIV)) || clip > 1) return false;
    if (opt == 1 && (!isUnit32(hdrF32(H_UPD_B1)) || !isUnit32(hdrF32(H_UPD_B2)) || !isPos32(hdrF32(H_UPD_EPS)))) return false;
    if (clip == 1 && !(hdrF32(H_UPD_WMIN) <= hdrF32(H_UPD_WMAX))) return false;
  }
  if (!allFinite(dcPtr(DC_X), <u32>nIn) || !allFinite(dcPtr(DC_TARGET), <u32>nOut)) return false;
  for (let l = 0; l < nLayers; l++) {
    if (!isUnit32(entryF32(l, T_ALPHA)) || !isUnit32(entryF32(l, T_BETA)) || !isUnit32(entryF32(l, T_ALPHARP))) return false;
    if (!isFinite(entryF32(l, T_WRP)) || !isFinite(entryF32(l, T_CQ)) || !isFinite(entryF32(l, T_CP))) return false;
    const reg = entryF32(l, T_REG);
    if (!(reg >= 0) || !isFinite(reg)) return false;
    if (!isFinite(load<f64>(dcPtr(DC_LOSS) + (<usize>l << 3)))) return false;
    for (let f = LF_W; f <= LF_ERR; f++) {
      if (f == LF_IDX) continue; // rewritten by every step before it is read
      const cnt = <u32>layerFieldElems(f, layerNPre(l), layerN(l), nOut, flags, 1);
      const p = dcLayerPtr(l, f);
      if (!allFinite(p, cnt)) return false;
      if (f == LF_VW || f == LF_VB) {
        for (let i: u32 = 0; i < cnt; i++) if (load<f32>(p + (<usize>i << 2)) < 0) return false;
      }
    }
  }
  return true;
}

/** {size, k}: the blob size and where training resumes (see ckK). */
function ckSizeK(): i32 {
  mpWriteMap(2);
  mpWriteStr("size");
  mpWriteUint(ckSize());
  mpWriteStr("k");
  mpWriteUint(ckK());
  return H_DONE;
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
      restoreNext = 0;
      const r = ckPlace(0xffffffff);
      if (r != H_DONE) return r;
      restoreTotal = load<u32>(ckHdr + 8);
      restoreNext = CK_HDR;
      dPtr += CK_HDR;
      dLen -= CK_HDR;
      o = CK_HDR;
    } else if (restoreNext == 0 || o != restoreNext) {
      return fail(E_BAD_VALUE, "o", "chunks must be written in order (expected offset %)", restoreNext);
    }
    if (<u64>o + <u64>dLen > <u64>restoreTotal) return fail(E_BAD_SHAPE, "d", "chunk runs past the checkpoint's % bytes", restoreTotal);
    memory.copy(base + <usize>(o - CK_HDR), dPtr, dLen);
    restoreNext = o + dLen;
    if (restoreNext == restoreTotal) {
      restoreNext = 0;
      const r = ckAdopt();
      if (r != H_DONE) return r;
    }
    mpWriteMap(2);
    mpWriteStr("size");
    mpWriteUint(restoreTotal);
    mpWriteStr("n");
    mpWriteUint(got);
    return H_DONE;
  }
  if (op == 3) { // LOAD from storage
    const avail = storage_size();
    if (avail < CK_HDR) return fail(E_STORAGE, "", "the board has no storage for checkpoints (% bytes)", avail);
    if (storage_read(0, ckHdr, CK_HDR) != CK_HDR) return fail(E_STORAGE, "", "storage read failed");
    restoreNext = 0;
    const r = ckPlace(<u64>avail);
    if (r != H_DONE) return r;
    const arena = load<u32>(ckHdr + 8) - CK_HDR;
    if (storage_read(CK_HDR, base, arena) != arena) return fail(E_STORAGE, "", "storage read failed");
    const v = ckAdopt();
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
    if (storage_write(CK_HDR, base, dcArenaBytes()) != dcArenaBytes()) return fail(E_STORAGE, "", "storage write failed");
    store<u32>(ckHdr, CK_MAGIC);
    if (storage_write(0, ckHdr, CK_HDR) != CK_HDR) return fail(E_STORAGE, "", "storage write failed");
    return ckSizeK();
  }
  // op 0: READ a chunk
  if (ckO < CK_HDR) ckFillHeader();
  return readBlobChunk(ckHdr, CK_HDR, base, ckSize());
}

// ---------------------------------------------------------------- RESET
/** RESET: bit 1 or 2 a new trial, 4 the optimizer (Adam moments, counters, the per-step update), 8 everything. */
function hReset(k: u32): i32 {
  if ((k & 8) != 0) {
    configured = false;
    restoreNext = 0;
    return H_DONE;
  }
  if (!configured) return H_DONE;
  if ((k & 3) != 0) {
    dcReset();
    trialLearned = false;
  }
  if ((k & 4) != 0) {
    dcResetOptimizer();
    dcStepUpdate(-1, 0, 0, 0, 0, false, 0, 0, 1);
    trials = 0;
  }
  return H_DONE;
}
