// e-prop's protocol handlers (MODEL.md, PROTOCOL.md §4): CONFIGURE, WRITE, READ, RUN, APPLY,
// GRADS, CHECKPOINT and RESET on the e-prop kernels' arena (device/kernels/eprop.ts, layout.ts).
// The firmware reaches them through epropRule(op, arg), registered in device/firmware/rules.ts;
// the seam's contract (ops, H_DONE/H_PENDING, no allocation) is device/firmware/rule.ts. Each h*
// function reads its request body with the msgpack reader (positioned at the body map) and
// writes its response body with the msgpack writer, then returns H_DONE, or an error code after
// fail(...) / failKey(...), or H_PENDING (long work: the firmware then calls OP_CONTINUE from
// every poll() until it returns H_DONE or an error; the request bytes stay valid meanwhile, the
// reader and writer do not — keep pointers, and write the whole response body in the final
// continue call). No handler allocates.
//
// The model lives in the kernels' arena (device/kernels/layout.ts), placed at arenaStart(), right
// after the firmware's static data; CONFIGURE grows the wasm memory to hold it (NO_MEMORY if it
// cannot). Everything here mirrors host/device/driver.ts (same flags, same f32 constants, same
// layout, same call order), so a case run through the firmware equals the `wasm` backend bit for bit.
import {
  mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool,
  tPtr, tLen, tInt, tFloat, T_NIL, T_MAP, T_STR, T_BIN, T_INT, T_FLOAT,
  mpWriteMap, mpWriteStr, mpWriteUint, mpWriteF64, mpWriteBinReserve, ldF32, stF32,
} from "../../firmware/msgpack";
import {
  fail, errCode, E_BAD_FIELD, E_BAD_SHAPE, E_BAD_VALUE, E_NO_MEMORY, E_NOT_CONFIGURED, E_UNSUPPORTED,
  E_STORAGE, E_INTERNAL,
} from "../../firmware/errors";
import { readKey, failKey, M_CONFIGURE, M_WRITE, M_READ, M_RUN, M_APPLY, M_GRADS, M_CHECKPOINT } from "../../firmware/dispatcher";
import { H_DONE, H_PENDING, OP_NAME, OP_CONTINUE, OP_RESET, OP_BYTES, OP_CAPS, arenaStart, isRuleKey } from "../../firmware/rule";
import { hFreeRam } from "../../firmware/handlers";
import { crc32c } from "../../firmware/crc32c";
import { storage_size, storage_read } from "../../firmware/hal";
import {
  readChoice, readPOND, fP, fO, fN, fHasN, fD, fDLen, fHasD, readRun, checkRun, beginRun, stepInputs, stepOutputs,
  wantsSpikes, stepSpike, stepDone, endRun, resumeRun, rT, runXf, runRs, runEnd, runLearn, runHasLs, runLs, readCheckpoint,
  ckOp, ckO, ckD, ckDLen, ckHasD, readBlobChunk, saveBlob, writeSizeK,
} from "../../firmware/model-io";
import {
  epConfigure, epConstants, epInjectL, epReset, epForward, epLearn, epStep, epFinish, epSteps,
  epApplyGd, epApplyAdam, epResetOptimizer, epPtr, epStride, epArenaBytes,
  epUpdateRate, epConstantsOk, boardFixed16, fixedKernel, numericsRefusal, fxGet, fxSet,
} from "../../kernels/numerics";
import {
  layoutArena, F_ALIF, F_CE, F_RATEREG, F_ADAM, F_SEPB, F_REFRACTORY, F_TRAINBIAS, F_MEAN, F_STEP,
  FLD_W, FLD_WOUT, FLD_BOUT, FLD_FB, FLD_BETA, FLD_V, FLD_A, FLD_Z, FLD_L, FLD_ACT, FLD_PRE, FLD_Y,
  FLD_TARGET, FLD_GB, FLD_EPSA, FLD_EBAR, FLD_G, FLD_GOUT,
} from "../../kernels/layout";

// ---------------------------------------------------------------- model state
let configured: bool = false;
let nIn: i32 = 0;
let nRec: i32 = 0;
let nOut: i32 = 0;
let S: i32 = 0;
let flags: i32 = 0;
/** Adam steps applied so far (the n of the bias correction). */
let adamStep: u32 = 0;
/** Updates applied so far (gd and adam). */
let updates: u32 = 0;
/** The f32 constants given to epConstants (kept for CHECKPOINT). */
let cAlpha: f32 = 0, cRho: f32 = 0, cKappa: f32 = 0, cZeta: f32 = 0, cS: f32 = 0, cVTh: f32 = 0, cGamma: f32 = 0;
let cRefr: i32 = 0;
let cCReg: f32 = 0, cFTarget: f32 = 0;
/** The per-step learning rate (update "step"; 0 with trial updates), kept for CHECKPOINT. */
let cLr: f32 = 0;
let arenaBase: usize = 0;

/** The rule's entry: the seam of device/firmware/rule.ts. */
export function epropRule(op: i32, arg: u32): i32 {
  switch (op) {
    case M_CONFIGURE: return hConfigure();
    case M_WRITE: return hWrite();
    case M_READ: return hRead();
    case M_RUN: return hRun();
    case M_APPLY: return hApply();
    case M_GRADS: return hGrads();
    case M_CHECKPOINT: return hCheckpoint();
    case OP_NAME: return <i32>changetype<usize>("eprop");
    case OP_CONTINUE: return hContinue();
    case OP_RESET: return hReset(arg);
    case OP_BYTES: return configured ? <i32>epArenaBytes() : 0;
    case OP_CAPS: return writeCaps(arg);
  }
  return fail(E_INTERNAL, "", "eprop: unknown op %", <u32>op);
}

/**
 * HELLO caps of e-prop (the firmware adds its own after them): on a board with numerics fixed16
 * e-prop runs device/kernels/fixed16-eprop.ts (LIF and gd only) and says so with `fixed16`; the
 * other rules keep their float32 kernels there (soft-float on an FPU-less core).
 */
function writeCaps(write: u32): i32 {
  const fx = boardFixed16();
  if (write == 0) return fx ? 5 : 6;
  mpWriteStr("lif");
  if (!fx) mpWriteStr("alif");
  mpWriteStr("eprop");
  if (!fx) mpWriteStr("adam");
  mpWriteStr("inject");
  mpWriteStr("step");
  if (fx) mpWriteStr("fixed16");
  return H_DONE;
}

// ---------------------------------------------------------------- element addressing
// Parameter/gradient element e of the row-major host matrices, mapped into the arena layout
// (pre-major W[p][j] at p*S + j; wOut[k][j] at k*S + j; B[j][k] stored transposed at k*S + j).

const KIND_PARAM: i32 = 0;
const KIND_GRAD: i32 = 1;

/** Element count of id `p` for READ/WRITE (kind 0) or GRADS (kind 1); -1 if unknown/absent. */
function idCount(p: u32, kind: i32): i32 {
  if (kind == KIND_GRAD && p <= 3 && (flags & F_STEP) != 0) return -1; // per-step updates keep no gradients
  if (p == 0) return nRec * nIn;
  if (p == 1) return nRec * nRec;
  if (p == 2) return nOut * nRec;
  if (p == 3) return nOut;
  if (p == 4) return kind == KIND_PARAM && (flags & F_SEPB) != 0 ? nRec * nOut : -1;
  if (kind == KIND_PARAM) return -1;
  if (p == 16) return nIn; // xbar
  if (p == 17) return nRec; // zbar
  if (p == 18 || p == 20) return (p == 20 || (flags & F_ALIF) != 0) ? nRec * nIn : -1; // epsA / ebar wIn
  if (p == 19 || p == 21) return (p == 21 || (flags & F_ALIF) != 0) ? nRec * nRec : -1; // epsA / ebar wRec
  if (p == 22) return nRec; // v
  if (p == 23) return (flags & F_ALIF) != 0 ? nRec : -1; // a
  if (p == 24) return nRec; // z
  if (p == 25) return nOut; // y
  return -1;
}

/** Address of element e of id p. */
function idAddr(p: u32, kind: i32, e: i32): usize {
  let base: usize = 0;
  let idx: i32 = e;
  if (p <= 1 || p == 18 || p == 19 || p == 20 || p == 21) {
    // [nRec][nIn] (p 0, 18, 20) or [nRec][nRec] (p 1, 19, 21), element (j, i) at (i0 + i)*S + j
    const rec = p == 1 || p == 19 || p == 21;
    const cols = rec ? nRec : nIn;
    const j = e / cols, i = e % cols;
    idx = ((rec ? nIn : 0) + i) * S + j;
    if (p <= 1) base = epPtr(kind == KIND_PARAM ? FLD_W : FLD_G);
    else base = epPtr(p <= 19 ? FLD_EPSA : FLD_EBAR);
  } else if (p == 2) {
    idx = (e / nRec) * S + (e % nRec);
    base = epPtr(kind == KIND_PARAM ? FLD_WOUT : FLD_GOUT);
  } else if (p == 3) base = epPtr(kind == KIND_PARAM ? FLD_BOUT : FLD_GB);
  else if (p == 4) {
    idx = (e % nOut) * S + (e / nOut); // B[j][k], e = j*nOut + k, stored at k*S + j
    base = epPtr(FLD_FB);
  } else if (p == 16) base = epPtr(FLD_PRE);
  else if (p == 17) { base = epPtr(FLD_PRE); idx = nIn + e; }
  else if (p == 22) base = epPtr(FLD_V);
  else if (p == 23) base = epPtr(FLD_A);
  else if (p == 24) base = epPtr(FLD_Z);
  else if (p == 25) base = epPtr(FLD_Y);
  return base + (<usize>idx << 2);
}

// ---------------------------------------------------------------- CONFIGURE
function readPosNum(field: string): bool {
  if (!mpReadNum()) { fail(E_BAD_FIELD, field, "must be a number"); return false; }
  if (!(vF64 > 0) || !isFinite(vF64)) { fail(E_BAD_VALUE, field, "must be finite and > 0"); return false; }
  return true;
}
function readDim(field: string): bool {
  if (!mpReadU32()) { fail(E_BAD_FIELD, field, "must be an unsigned integer"); return false; }
  if (vU32 < 1 || vU32 > 65535) { fail(E_BAD_VALUE, field, "must be in 1..65535 (got %)", vU32); return false; }
  return true;
}

/** Upper bound of the arena bytes (u64: no overflow for any u16 sizes). */
function arenaBound(nI: u64, nR: u64, nO: u64, f: i32): u64 {
  const pre = (nI + nR) * nR;
  let mats: u64 = 3; // W, EBAR, G
  if ((f & F_ALIF) != 0) mats++;
  if ((f & F_RATEREG) != 0) mats++;
  if ((f & F_ADAM) != 0) mats += 2;
  return (pre * mats + (nO * nR) * 6 + nR * 16 + (nI + nR) * 2 + nO * 12) * 4 + 64 * 16;
}

function hConfigure(): i32 {
  const n = mpReadMap();
  let nI: u32 = 0, nR: u32 = 0, nO: u32 = 0;
  let betaPtr: usize = 0, betaLen: u32 = 0, betaNum: f64 = 0;
  let refr: u32 = 0, lossCe = false, inOMA = false, outOMK = false, trainBias = true;
  let rateReg = false, cReg: f64 = 0, fT: f64 = 0, mean = false, fb: u32 = 0, adam = false, neuronAlif = false;
  let dt: f64 = 1, tauMem: f64 = 20, tauOut: f64 = 20, tauAdapt: f64 = 200, vTh: f64 = 1, gamma: f64 = 0.3;
  let alpha: f64 = NaN, rho: f64 = NaN, kappa: f64 = NaN, stepUpdate = false, lr: f64 = NaN;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (isRuleKey()) continue;
    if (mpStrIs("nIn")) { if (!readDim("nIn")) return errCode; nI = vU32; }
    else if (mpStrIs("nRec")) { if (!readDim("nRec")) return errCode; nR = vU32; }
    else if (mpStrIs("nOut")) { if (!readDim("nOut")) return errCode; nO = vU32; }
    else if (mpStrIs("neuron")) { const c = readChoice("neuron", "lif", "alif"); if (c < 0) return errCode; neuronAlif = c == 1; }
    else if (mpStrIs("dt")) { if (!readPosNum("dt")) return errCode; dt = vF64; }
    else if (mpStrIs("tauMem")) { if (!readPosNum("tauMem")) return errCode; tauMem = vF64; }
    else if (mpStrIs("tauOut")) { if (!readPosNum("tauOut")) return errCode; tauOut = vF64; }
    else if (mpStrIs("tauAdapt")) { if (!readPosNum("tauAdapt")) return errCode; tauAdapt = vF64; }
    else if (mpStrIs("vTh")) { if (!readPosNum("vTh")) return errCode; vTh = vF64; }
    else if (mpStrIs("gamma")) { if (!readPosNum("gamma")) return errCode; gamma = vF64; }
    else if (mpStrIs("alpha")) { if (!readPosNum("alpha")) return errCode; alpha = vF64; }
    else if (mpStrIs("rho")) { if (!readPosNum("rho")) return errCode; rho = vF64; }
    else if (mpStrIs("kappa")) { if (!readPosNum("kappa")) return errCode; kappa = vF64; }
    else if (mpStrIs("refractory")) {
      if (!mpReadU32(1000000)) return fail(E_BAD_FIELD, "refractory", "must be an unsigned integer <= 1000000");
      refr = vU32;
    }
    else if (mpStrIs("loss")) { const c = readChoice("loss", "mse", "ce"); if (c < 0) return errCode; lossCe = c == 1; }
    else if (mpStrIs("inputScale")) { const c = readChoice("inputScale", "one", "oneMinusAlpha"); if (c < 0) return errCode; inOMA = c == 1; }
    else if (mpStrIs("readoutScale")) { const c = readChoice("readoutScale", "one", "oneMinusKappa"); if (c < 0) return errCode; outOMK = c == 1; }
    else if (mpStrIs("lossReduction")) { const c = readChoice("lossReduction", "sum", "mean"); if (c < 0) return errCode; mean = c == 1; }
    else if (mpStrIs("optimizer")) { const c = readChoice("optimizer", "gd", "adam"); if (c < 0) return errCode; adam = c == 1; }
    else if (mpStrIs("update")) { const c = readChoice("update", "trial", "step"); if (c < 0) return errCode; stepUpdate = c == 1; }
    else if (mpStrIs("lr")) { if (!readPosNum("lr")) return errCode; lr = vF64; }
    else if (mpStrIs("trainBias")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "trainBias", "must be a bool"); trainBias = vBool; }
    else if (mpStrIs("feedback")) {
      if (mpNext() != T_STR) return fail(E_BAD_FIELD, "feedback", "must be a string");
      if (mpStrIs("symmetric")) fb = 0;
      else if (mpStrIs("random")) fb = 1;
      else if (mpStrIs("adaptive")) fb = 2;
      else return fail(E_BAD_VALUE, "feedback", "must be symmetric, random or adaptive");
    }
    else if (mpStrIs("beta")) {
      const k = mpNext();
      if (k == T_BIN) { betaPtr = tPtr; betaLen = tLen; }
      else if (k == T_INT || k == T_FLOAT) {
        betaNum = k == T_INT ? <f64>tInt : tFloat;
        if (!isFinite(betaNum) || betaNum < 0) return fail(E_BAD_VALUE, "beta", "must be finite and >= 0");
      } else return fail(E_BAD_FIELD, "beta", "must be a number or a bin of nRec f32");
    }
    else if (mpStrIs("rateReg")) {
      const k = mpNext();
      if (k == T_NIL) rateReg = false;
      else if (k == T_MAP) {
        const m = <i32>tLen;
        rateReg = true;
        for (let j = 0; j < m; j++) {
          if (!readKey()) return errCode;
          if (mpStrIs("cReg")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "rateReg.cReg", "must be a finite number"); cReg = vF64; }
          else if (mpStrIs("fTargetHz")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "rateReg.fTargetHz", "must be a finite number"); fT = vF64; }
          else return failKey(E_BAD_FIELD, "unknown field in rateReg");
        }
      } else return fail(E_BAD_FIELD, "rateReg", "must be nil or a map {cReg, fTargetHz}");
    }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (nI == 0) return fail(E_BAD_FIELD, "nIn", "missing");
  if (nR == 0) return fail(E_BAD_FIELD, "nRec", "missing");
  if (nO == 0) return fail(E_BAD_FIELD, "nOut", "missing");
  if (betaPtr != 0 && betaLen != nR * 4) return fail(E_BAD_SHAPE, "beta", "must hold nRec = % f32 (got % bytes)", nR, betaLen);
  let anyBeta = betaNum != 0;
  if (betaPtr != 0) {
    for (let j: u32 = 0; j < nR; j++) {
      const b = ldF32(betaPtr + (<usize>j << 2));
      if (!isFinite(b) || b < 0) return fail(E_BAD_VALUE, "beta", "element % is negative, NaN or infinite", j);
      if (b != 0) anyBeta = true;
    }
  }
  // `neuron` is informational: ALIF is "some beta != 0" (MODEL.md; host/device/planner.ts)
  neuronAlif;

  // flags exactly as host/device/planner.ts modelFlags()
  let f: i32 = 0;
  if (anyBeta) f |= F_ALIF;
  if (lossCe) f |= F_CE;
  if (rateReg) f |= F_RATEREG;
  if (adam) f |= F_ADAM;
  if (fb != 0) f |= F_SEPB;
  if (refr > 0) f |= F_REFRACTORY;
  if (trainBias) f |= F_TRAINBIAS;
  if (mean) f |= F_MEAN;
  if (stepUpdate) {
    // per-step updates (device/README.md): gd at a fixed rate, sum reduction, no rate regulariser
    if (isNaN(lr)) return fail(E_BAD_FIELD, "lr", "required with update \"step\" (the per-step learning rate)");
    if (adam || mean || rateReg) return fail(E_UNSUPPORTED, adam ? "optimizer" : mean ? "lossReduction" : "rateReg", "not available with update \"step\" (gd, sum, no rateReg)");
    f |= F_STEP;
  }
  const refused = numericsRefusal(f);
  if (refused.length > 0) return fail(E_UNSUPPORTED, refused, "not available with fixed16 numerics (LIF, gd, no refractory period or rateReg)");

  const r = placeArena(nI, nR, nO, f);
  if (r != H_DONE) return r;

  // constants as host/model/decay.ts decays() in f64, rounded to f32 once
  if (isNaN(alpha)) alpha = Math.exp(-dt / tauMem);
  if (isNaN(rho)) rho = Math.exp(-dt / tauAdapt);
  if (isNaN(kappa)) kappa = Math.exp(-dt / tauOut);
  cAlpha = <f32>alpha; cRho = <f32>rho; cKappa = <f32>kappa;
  cZeta = inOMA ? <f32>(1 - alpha) : 1;
  cS = outOMK ? <f32>(1 - kappa) : 1;
  cVTh = <f32>vTh; cGamma = <f32>gamma; cRefr = <i32>refr;
  cCReg = rateReg ? <f32>cReg : 0;
  cFTarget = rateReg ? <f32>((fT * dt) / 1000) : 0;
  epConstants(cAlpha, cRho, cKappa, cZeta, cS, cVTh, cGamma, cRefr, cCReg, cFTarget);
  if (!epConstantsOk()) { configured = false; return fail(E_BAD_VALUE, "vTh", "vTh and the decays leave the fixed16 formats' range"); }
  cLr = stepUpdate ? <f32>lr : 0;
  if (stepUpdate) epUpdateRate(cLr);
  if ((f & F_ALIF) != 0) {
    const pb = epPtr(FLD_BETA);
    for (let j = 0; j < nRec; j++) {
      store<f32>(pb + (<usize>j << 2), betaPtr != 0 ? ldF32(betaPtr + (<usize>j << 2)) : <f32>betaNum);
    }
  }
  mpWriteMap(2);
  mpWriteStr("bytes");
  mpWriteUint(epArenaBytes());
  mpWriteStr("ram");
  mpWriteUint(hFreeRam());
  return H_DONE;
}

/** Grows memory for and lays out the arena (zeroed); sets the model sizes. */
function placeArena(nI: u32, nR: u32, nO: u32, f: i32): i32 {
  const base = arenaStart();
  const have: u64 = (<u64>memory.size() << 16) - <u64>base;
  const bound = arenaBound(<u64>nI, <u64>nR, <u64>nO, f);
  if (bound > 0x7fff0000) {
    configured = false;
    return fail(E_NO_MEMORY, "", "model needs about % MiB; board has % bytes free", <u32>(bound >> 20), <u32>have);
  }
  const need = layoutArena(<i32>nI, <i32>nR, <i32>nO, f, 1);
  const end: u64 = <u64>base + <u64>need;
  const size: u64 = <u64>memory.size() << 16;
  if (end > size) {
    const pages = <i32>((end - size + 0xffff) >> 16);
    if (memory.grow(pages) < 0) {
      configured = false;
      return fail(E_NO_MEMORY, "", "model needs % bytes; board has % bytes free", need, <u32>have);
    }
  }
  arenaBase = base;
  epConfigure(base, <i32>nI, <i32>nR, <i32>nO, f);
  nIn = <i32>nI; nRec = <i32>nR; nOut = <i32>nO; flags = f;
  S = epStride();
  adamStep = 0;
  updates = 0;
  restoreNext = 0;
  configured = true;
  return H_DONE;
}

// ---------------------------------------------------------------- WRITE / READ / GRADS
function hWrite(): i32 {
  if (!readPOND(false, true)) return errCode;
  if (!fHasD) return fail(E_BAD_FIELD, "d", "missing");
  if (!configured) return fail(E_NOT_CONFIGURED, "", "WRITE before CONFIGURE");
  const total = idCount(fP, KIND_PARAM);
  if (total < 0) {
    if (fP == 4) return fail(E_BAD_VALUE, "p", "feedback is symmetric: B is wOut transposed and cannot be written");
    return fail(E_BAD_VALUE, "p", "unknown parameter id %", fP);
  }
  if ((fDLen & 3) != 0) return fail(E_BAD_SHAPE, "d", "% bytes is not a whole number of f32", fDLen);
  const cnt = fDLen >> 2;
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "d", "offset + count exceeds the parameter's % elements", <u32>total);
  for (let i: u32 = 0; i < cnt; i++) {
    const v = ldF32(fD + (<usize>i << 2));
    if (!isFinite(v)) return fail(E_BAD_VALUE, "d", "element % is NaN or infinite", i);
  }
  for (let i: u32 = 0; i < cnt; i++) {
    const e = <i32>(fO + i);
    let v = ldF32(fD + (<usize>i << 2));
    if (fP == 1 && e / nRec == e % nRec) v = 0; // wRec diagonal is 0 (MODEL.md)
    if (fixedKernel()) fxSet(fP, e, v);
    else store<f32>(idAddr(fP, KIND_PARAM, e), v);
  }
  mpWriteMap(2);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("n");
  mpWriteUint(cnt);
  return H_DONE;
}

function readOut(kind: i32): i32 {
  const total = idCount(fP, kind);
  if (total < 0) {
    if (kind == KIND_GRAD && fP <= 25) return fail(E_UNSUPPORTED, "p", "id % is not kept by this model", fP);
    return fail(E_BAD_VALUE, "p", "unknown id %", fP);
  }
  const cnt: u32 = fHasN ? fN : (fO < <u32>total ? <u32>total - fO : 0);
  if (<u64>fO + <u64>cnt > <u64>total) return fail(E_BAD_SHAPE, "n", "offset + count exceeds the % elements", <u32>total);
  mpWriteMap(3);
  mpWriteStr("p");
  mpWriteUint(fP);
  mpWriteStr("o");
  mpWriteUint(fO);
  mpWriteStr("d");
  if (<u64>cnt * 4 > 0xffff) return fail(E_BAD_SHAPE, "n", "at most 16383 elements per request");
  const dst = mpWriteBinReserve(cnt << 2);
  if (dst != 0) {
    for (let i: u32 = 0; i < cnt; i++) {
      const e = <i32>(fO + i);
      stF32(dst + (<usize>i << 2), fixedKernel() ? fxGet(fP, kind, e) : load<f32>(idAddr(fP, kind, e)));
    }
  }
  return H_DONE;
}

function hRead(): i32 {
  if (!readPOND(true, false)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "READ before CONFIGURE");
  return readOut(KIND_PARAM);
}

function hGrads(): i32 {
  if (!readPOND(true, false)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "GRADS before CONFIGURE");
  return readOut(KIND_GRAD);
}

// ---------------------------------------------------------------- RUN
function hRun(): i32 {
  if (!readRun(true, 15)) return errCode;
  if (!configured) return fail(E_NOT_CONFIGURED, "", "RUN before CONFIGURE");
  if (runXf == 1 && fixedKernel()) return fail(E_UNSUPPORTED, "xf", "fixed16 numerics take spike inputs (bits, xf 0)");
  if (!checkRun(<u32>nIn, <u32>nOut, <u32>nRec)) return errCode;
  // response: n, t, then the requested arrays, then loss (when the trial ends)
  if (!beginRun(<u32>nIn, <u32>nOut, <u32>nRec)) return H_DONE; // the writer overflowed: TOO_LARGE, nothing run
  if (runRs) epReset();
  epInjectL(runHasLs);
  // the run continues over several polls if it is long (bounded work per poll, device/HAL.md)
  return runSome();
}

/** Synapse-steps of work per poll (at least one step): ~15 ms on a Cortex-M4 at 180 MHz. */
const WORK_PER_POLL: u64 = 1 << 18;

/** Advances the RUN by a bounded amount of work; finishes the response when the last step is done. */
function runSome(): i32 {
  const pAct = epPtr(FLD_ACT), pTarget = epPtr(FLD_TARGET), pZ = epPtr(FLD_Z), pY = epPtr(FLD_Y), pL = epPtr(FLD_L);
  const perStep: u64 = <u64>(nIn + nRec + nOut) * <u64>nRec + 1;
  let budget: u64 = WORK_PER_POLL;
  let more = true;
  while (more && budget > 0) {
    const mask = stepInputs(pAct, pTarget);
    if (runHasLs) {
      epForward(mask);
      memory.copy(pL, runLs + <usize>rT * (<usize>nRec << 2), <usize>nRec << 2);
      if (runLearn) epLearn();
    } else if (runLearn) {
      epStep(mask);
    } else {
      epForward(mask);
    }
    stepOutputs(pY);
    if (wantsSpikes()) {
      for (let j = 0; j < nRec; j++) if (load<f32>(pZ + (<usize>j << 2)) != 0) stepSpike(<u32>j);
    }
    more = stepDone();
    budget = budget > perStep ? budget - perStep : 0;
  }
  if (more) return H_PENDING;
  endRun(<u32>epSteps());
  if (runEnd) {
    const loss = epFinish();
    mpWriteStr("loss");
    mpWriteF64(loss);
  }
  return H_DONE;
}

/** Called by the dispatcher from each poll() while a request is pending (the writer is at the body start). */
function hContinue(): i32 {
  return resumeRun() ? runSome() : errCode;
}

// ---------------------------------------------------------------- APPLY
function hApply(): i32 {
  const n = mpReadMap();
  let opt: u32 = 0, lr: f64 = NaN, b1: f64 = 0.9, b2: f64 = 0.999, eps: f64 = 1e-8;
  let wMin: f64 = NaN, wMax: f64 = NaN, k: u32 = 0;
  for (let i = 0; i < n; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("opt")) { if (!mpReadU32(1)) return fail(E_BAD_FIELD, "opt", "must be 0 (gd) or 1 (adam)"); opt = vU32; }
    else if (mpStrIs("lr")) { if (!mpReadNum() || !isFinite(vF64) || !(vF64 > 0)) return fail(E_BAD_FIELD, "lr", "must be a finite number > 0"); lr = vF64; }
    else if (mpStrIs("b1")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "b1", "must be a finite number"); b1 = vF64; }
    else if (mpStrIs("b2")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "b2", "must be a finite number"); b2 = vF64; }
    else if (mpStrIs("eps")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "eps", "must be a finite number"); eps = vF64; }
    else if (mpStrIs("wMin")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "wMin", "must be a finite number"); wMin = vF64; }
    else if (mpStrIs("wMax")) { if (!mpReadNum() || !isFinite(vF64)) return fail(E_BAD_FIELD, "wMax", "must be a finite number"); wMax = vF64; }
    else if (mpStrIs("k")) { if (!mpReadU32() || vU32 == 0) return fail(E_BAD_FIELD, "k", "must be an unsigned integer >= 1"); k = vU32; }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "APPLY before CONFIGURE");
  if ((flags & F_STEP) != 0) return fail(E_BAD_VALUE, "opt", "the model was configured with update \"step\": RUN applies the updates");
  if (isNaN(lr)) return fail(E_BAD_FIELD, "lr", "missing");
  if (opt == 0) {
    const clip = !isNaN(wMin) || !isNaN(wMax);
    if (clip && (isNaN(wMin) || isNaN(wMax) || wMin > wMax)) return fail(E_BAD_VALUE, "wMin", "clipping needs both wMin <= wMax");
    epApplyGd(<f32>lr, clip, clip ? <f32>wMin : 0, clip ? <f32>wMax : 0);
  } else {
    if ((flags & F_ADAM) == 0) return fail(E_BAD_VALUE, "opt", "the model was configured without optimizer \"adam\"");
    adamStep = k != 0 ? k : adamStep + 1;
    epApplyAdam(<f32>lr, <f32>b1, <f32>b2, <f32>eps, <i32>adamStep);
  }
  updates++;
  mpWriteMap(1);
  mpWriteStr("k");
  mpWriteUint(opt == 1 ? adamStep : updates);
  return H_DONE;
}

// ---------------------------------------------------------------- CHECKPOINT
// Blob = 96-byte header + the whole arena (weights, B, state, traces, gradients, Adam moments).
//   0 'EPCK'  4 version 1  8 total bytes  12 CRC-32C of bytes 16..end (header rest + arena)
//   16 nIn 20 nRec 24 nOut 28 flags 32 adamStep 36 updates 40 refractory (u32)
//   44 alpha 48 rho 52 kappa 56 zeta 60 s 64 vTh 68 gamma 72 cReg 76 fTarget (f32)
//   80 lr of update "step" (f32, 0 with trial updates)  84 numerics (u32: 0 f32, 1 fixed16)  88..95 reserved 0
// (80..95 were reserved 0 before per-step updates and fixed16: such a blob reads as f32, trial updates)
// Taken between trials (the kernels' per-trial loss accumulators are not part of it).
const CK_HDR: u32 = 96;
const CK_MAGIC: u32 = 0x4b435045; // "EPCK" little-endian
const CK_VERSION: u32 = 1;
const ckHdr: usize = memory.data(96, 16);
let restoreNext: u32 = 0;
let restoreTotal: u32 = 0;

function ckSize(): u32 {
  return CK_HDR + epArenaBytes();
}

function ckFillHeader(): void {
  memory.fill(ckHdr, 0, CK_HDR);
  store<u32>(ckHdr, CK_MAGIC);
  store<u32>(ckHdr + 4, CK_VERSION);
  store<u32>(ckHdr + 8, ckSize());
  store<u32>(ckHdr + 16, <u32>nIn);
  store<u32>(ckHdr + 20, <u32>nRec);
  store<u32>(ckHdr + 24, <u32>nOut);
  store<u32>(ckHdr + 28, <u32>flags);
  store<u32>(ckHdr + 32, adamStep);
  store<u32>(ckHdr + 36, updates);
  store<u32>(ckHdr + 40, <u32>cRefr);
  store<f32>(ckHdr + 44, cAlpha);
  store<f32>(ckHdr + 48, cRho);
  store<f32>(ckHdr + 52, cKappa);
  store<f32>(ckHdr + 56, cZeta);
  store<f32>(ckHdr + 60, cS);
  store<f32>(ckHdr + 64, cVTh);
  store<f32>(ckHdr + 68, cGamma);
  store<f32>(ckHdr + 72, cCReg);
  store<f32>(ckHdr + 76, cFTarget);
  store<f32>(ckHdr + 80, cLr);
  store<u32>(ckHdr + 84, fixedKernel() ? 1 : 0);
  const c = crc32c(ckHdr + 16, CK_HDR - 16);
  store<u32>(ckHdr + 12, crc32c(arenaBase, epArenaBytes(), c));
}

/** Checks the header in ckHdr; configures the arena from it (zeroed). */
function ckApplyHeader(avail: u64): i32 {
  if (load<u32>(ckHdr) != CK_MAGIC) return fail(E_STORAGE, "", "no checkpoint (bad magic)");
  if (load<u32>(ckHdr + 4) != CK_VERSION) return fail(E_STORAGE, "", "checkpoint version % is not supported", load<u32>(ckHdr + 4));
  const nI = load<u32>(ckHdr + 16), nR = load<u32>(ckHdr + 20), nO = load<u32>(ckHdr + 24);
  const f = <i32>load<u32>(ckHdr + 28);
  if (nI < 1 || nI > 65535 || nR < 1 || nR > 65535 || nO < 1 || nO > 65535 || (f & ~(0xff | F_STEP)) != 0) {
    return fail(E_STORAGE, "", "checkpoint header is corrupt");
  }
  const lr = load<f32>(ckHdr + 80), fx = load<u32>(ckHdr + 84);
  if (fx > 1 || ((f & F_STEP) != 0 ? !(lr > 0) || !isFinite(lr) : lr != 0)) return fail(E_STORAGE, "", "checkpoint header is corrupt");
  if ((fx == 1) != boardFixed16()) return fail(E_STORAGE, "", "e-prop checkpoint of the other numerics (f32 vs fixed16) than this board runs");
  const total = load<u32>(ckHdr + 8);
  if (<u64>total > avail) return fail(E_STORAGE, "", "checkpoint of % bytes is truncated (% available)", total, <u32>avail);
  const r = placeArena(nI, nR, nO, f);
  if (r != H_DONE) return r;
  if (ckSize() != total) {
    configured = false;
    return fail(E_STORAGE, "", "checkpoint size % does not match its model (% bytes)", total, ckSize());
  }
  adamStep = load<u32>(ckHdr + 32);
  updates = load<u32>(ckHdr + 36);
  cRefr = <i32>load<u32>(ckHdr + 40);
  cAlpha = load<f32>(ckHdr + 44); cRho = load<f32>(ckHdr + 48); cKappa = load<f32>(ckHdr + 52);
  cZeta = load<f32>(ckHdr + 56); cS = load<f32>(ckHdr + 60); cVTh = load<f32>(ckHdr + 64);
  cGamma = load<f32>(ckHdr + 68); cCReg = load<f32>(ckHdr + 72); cFTarget = load<f32>(ckHdr + 76);
  epConstants(cAlpha, cRho, cKappa, cZeta, cS, cVTh, cGamma, cRefr, cCReg, cFTarget);
  cLr = lr;
  if ((f & F_STEP) != 0) epUpdateRate(cLr);
  return H_DONE;
}

/** After the arena is in place: verify the CRC recorded in the header; only then is the model usable. */
function ckVerify(): i32 {
  const want = load<u32>(ckHdr + 12);
  const c = crc32c(ckHdr + 16, CK_HDR - 16);
  if (crc32c(arenaBase, epArenaBytes(), c) != want) {
    configured = false;
    return fail(E_STORAGE, "", "checkpoint CRC mismatch: the model was discarded");
  }
  configured = true;
  return H_DONE;
}

/** {size, k}: the blob size and the number of updates it holds (where training resumes). */
function ckSizeK(): i32 {
  return writeSizeK(ckSize(), updates);
}

function hCheckpoint(): i32 {
  if (!readCheckpoint()) return errCode;
  const op = ckOp;
  let o = ckO, dPtr = ckD, dLen = ckDLen;
  if (op == 1) { // WRITE: sequential chunks; the first carries the header
    if (!ckHasD) return fail(E_BAD_FIELD, "d", "missing");
    const got = dLen;
    if (o == 0) {
      if (dLen < CK_HDR) return fail(E_BAD_SHAPE, "d", "the first chunk must hold the % byte header", CK_HDR);
      memory.copy(ckHdr, dPtr, CK_HDR);
      restoreNext = 0;
      const r = ckApplyHeader(0xffffffff);
      if (r != H_DONE) return r;
      configured = false; // not usable until the last chunk has arrived and its CRC matches
      restoreTotal = ckSize();
      restoreNext = CK_HDR;
      dPtr += CK_HDR;
      dLen -= CK_HDR;
      o = CK_HDR;
    } else if (restoreNext == 0 || o != restoreNext) {
      return fail(E_BAD_VALUE, "o", "chunks must be written in order (expected offset %)", restoreNext);
    }
    if (<u64>o + <u64>dLen > <u64>restoreTotal) return fail(E_BAD_SHAPE, "d", "chunk runs past the checkpoint's % bytes", restoreTotal);
    memory.copy(arenaBase + <usize>(o - CK_HDR), dPtr, dLen);
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
  if (op == 3) { // LOAD from storage
    const avail = storage_size();
    if (avail < CK_HDR) return fail(E_STORAGE, "", "the board has no storage for checkpoints (% bytes)", avail);
    if (storage_read(0, ckHdr, CK_HDR) != CK_HDR) return fail(E_STORAGE, "", "storage read failed");
    const r = ckApplyHeader(<u64>avail);
    if (r != H_DONE) return r;
    configured = false;
    if (storage_read(CK_HDR, arenaBase, epArenaBytes()) != epArenaBytes()) {
      configured = false;
      return fail(E_STORAGE, "", "storage read failed");
    }
    const v = ckVerify();
    if (v != H_DONE) return v;
    return ckSizeK();
  }
  if (!configured) return fail(E_NOT_CONFIGURED, "", "CHECKPOINT before CONFIGURE");
  if (op == 4) return ckSizeK();
  if (op == 2) { // SAVE to storage
    ckFillHeader();
    const r = saveBlob(ckHdr, CK_HDR, arenaBase, epArenaBytes());
    return r != H_DONE ? r : ckSizeK();
  }
  // op 0: READ a chunk
  if (ckO < CK_HDR) ckFillHeader();
  return readBlobChunk(ckHdr, CK_HDR, arenaBase, ckSize());
}

// ---------------------------------------------------------------- RESET, continue
/** RESET: bit 1 state, 2 gradients/traces (both: a new trial), 4 optimizer, 8 everything. */
function hReset(k: u32): i32 {
  if ((k & 8) != 0) {
    configured = false;
    restoreNext = 0;
    return H_DONE;
  }
  if (!configured) return H_DONE;
  if ((k & 3) != 0) epReset();
  if ((k & 4) != 0) {
    epResetOptimizer();
    adamStep = 0;
  }
  return H_DONE;
}
