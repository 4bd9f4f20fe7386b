// e-prop for boards with numerics "fixed16" (cores without an FPU): the recurrent layer, its
// traces, eligibility and accumulators in the FPGA core's fixed point (device/kernels/fixed16.ts,
// bit-exact with fpga/golden.ts), the readout in float32 (device/kernels/readout.ts, the float32
// kernel's code: O(nOut x nRec) per step, soft-float on these cores). The firmware reaches it
// through device/kernels/numerics.ts, with the float32 kernel's API and wire formats: the host
// writes and reads float32 parameters, gradients and state, converted here.
//
// Formats (fpga/README.md "Number formats"; the FPGA core's DEFAULTS, fpga/config.ts): 16-bit
// weights w = round(zeta w 2^wf) with wf = 12 - ceil(log2 vTh) (vTh at 2^11..2^12), membranes
// 20 bits, alpha and kappa in 16 bits, traces in 16 bits with traceFrac = 16 - bits(1/(1-alpha)+1),
// eligibility shift bits(vTh) + 4, accumulator shift 16, learning signals L = round(L 2^12) in
// 16 bits (update "step": L scaled by the learning rate, see fxUpdateRate). The formats live in
// the arena's header, so a checkpoint carries them. LIF only: no beta, refractory period or rate
// regulariser; gd only; spike inputs.
import { fxCoreLayout, fxCoreFormats, fxCorePtr, fxCoreClear, fxCoreStep, fxCoreLearn, fxCoreCommit, FX_STEP } from "./fixed16";
import { readoutForward, learningSignal, readoutGrads, readoutUpdate } from "./readout";
import { stepError } from "./loss";
import { gdRange, scaleDiv } from "./eprop";
import {
  F_ALIF, F_CE, F_RATEREG, F_ADAM, F_REFRACTORY, F_TRAINBIAS, F_MEAN, F_SEPB, F_STEP,
  FLD_ACT, FLD_Z, FLD_TARGET, FLD_Y, FLD_L, FLD_ERR,
} from "./layout";

const DECAY_FRAC: u32 = 16;
const MEMBRANE_BITS: u32 = 20;
const ACC_SHIFT: u32 = 16;
const GAIN_SHIFT: u32 = 13; // (the core's online mode; the firmware keeps ebar)
const L_FRAC: i32 = 12;
const HDR: usize = 64;

// header words: i32 formats, then f32 scales
const H_ALPHA = 0, H_KAPPA_I = 1, H_VTH = 2, H_TRACE = 3, H_ELIG = 4, H_WFRAC = 5;
const H_KAPPA = 6, H_S = 7, H_WSCALE = 8, H_ELSB = 9, H_LSCALE = 10, H_LR = 11, H_PRELSB = 12;

let base: usize = 0, arenaBytes: u32 = 0, pHdr: usize = 0;
let nIn: i32 = 0, nRec: i32 = 0, nOut: i32 = 0, nPre: i32 = 0, flags: i32 = 0;
let injectL: bool = false;
let pWOut: usize = 0, pBOut: usize = 0, pFb: usize = 0, pL: usize = 0, pZk: usize = 0, pSpk: usize = 0;
let pY: usize = 0, pErr: usize = 0, pTarget: usize = 0, pGB: usize = 0, pGOut: usize = 0;
let steps: i32 = 0, maskedSteps: i32 = 0, lossSum: f64 = 0, ok: f32 = 0, norm: f32 = 1;

@inline function hi(k: i32): i32 { return load<i32>(pHdr + (<usize>k << 2)); }
@inline function hf(k: i32): f32 { return load<f32>(pHdr + (<usize>k << 2)); }
@inline function setHi(k: i32, v: i32): void { store<i32>(pHdr + (<usize>k << 2), v); }
@inline function setHf(k: i32, v: f32): void { store<f32>(pHdr + (<usize>k << 2), v); }
@inline function align16(x: usize): usize { return (x + 15) & ~(<usize>15); }
/** Round half up and saturate to 16 bits (fpga/quantise.ts's quantisation); NaN -> 0 (never a trapping conversion). */
@inline function q16(x: f64): i32 { return x != x ? 0 : <i32>min<f64>(max<f64>(Math.floor(x + 0.5), -32768), 32767); }
/** q16 in float32 (per neuron and step: no double-precision arithmetic on the hot path). */
@inline function q16f(x: f32): i32 { return x != x ? 0 : <i32>min<f32>(max<f32>(Mathf.floor(x + 0.5), -32768), 32767); }
// Powers and logarithms of two exactly, from the float's bits: Math.pow and Math.log2 would link
// 6 KiB of f64 tables into the firmware's static data, which shares the 64 KiB linear memory with
// the model on a 128 KiB board (nucleo-f446re). Same values as Math.pow(2, k) for integer k.
/** 2^k for an integer k in -1022..1023. */
@inline function pow2(k: i32): f64 { return reinterpret<f64>(<u64>(k + 1023) << 52); }
/** floor(log2 x) of a finite x > 0 in the normal range; 1024 for +infinity. */
@inline function floorLog2(x: f64): i32 { return <i32>((reinterpret<u64>(x) >> 52) & 0x7ff) - 1023; }
/** ceil(log2 x) of a finite x > 0 in the normal range. */
function ceilLog2(x: f64): i32 { const e = floorLog2(x); return pow2(e) == x ? e : e + 1; }
/** Bits of an unsigned value (fpga/fixed.ts bitLen). */
function bitLen(n: f64): i32 { let b = 0; while (pow2(b) <= n) b++; return max(b, 1); }

/** Why a model cannot run on this kernel: the CONFIGURE field to name, or "" if it can. */
export function fxRefusal(f: i32): string {
  if ((f & F_ALIF) != 0) return "beta";
  if ((f & F_REFRACTORY) != 0) return "refractory";
  if ((f & F_RATEREG) != 0) return "rateReg";
  if ((f & F_ADAM) != 0) return "optimizer";
  return "";
}

/** Lays out and zeroes the arena at `arenaBase` (16-byte aligned); returns its bytes. */
export function fxConfigure(arenaBase: usize, nIn_: i32, nRec_: i32, nOut_: i32, flags_: i32): u32 {
  base = arenaBase; nIn = nIn_; nRec = nRec_; nOut = nOut_; nPre = nIn_ + nRec_; flags = flags_;
  pHdr = base;
  let at = base + HDR;
  at += <usize>fxCoreLayout(at, nIn, nRec, (flags & F_STEP) != 0 ? FX_STEP : 0);
  const row = <usize>nRec << 2, outs = <usize>nOut << 2;
  pWOut = at; at = align16(at + <usize>nOut * row);
  pFb = pWOut; if ((flags & F_SEPB) != 0) { pFb = at; at = align16(at + <usize>nOut * row); }
  pGOut = at; if ((flags & F_STEP) == 0) at = align16(at + <usize>nOut * row);
  pL = at; at = align16(at + row);
  pZk = at; at = align16(at + row);
  pSpk = at; at = align16(at + row);
  pBOut = at; at = align16(at + outs);
  pY = at; at = align16(at + outs);
  pErr = at; at = align16(at + outs);
  pTarget = at; at = align16(at + outs);
  pGB = at; at = align16(at + outs);
  arenaBytes = <u32>(at - base);
  memory.fill(base, 0, <usize>arenaBytes);
  injectL = false;
  fxReset();
  return arenaBytes;
}

export function fxArenaBytes(): u32 { return arenaBytes; }
export function fxSteps(): i32 { return steps; }
export function fxInjectL(on: bool): void { injectL = on; }

/** The float32 fields the firmware streams through (x in, target in, y, z, L out/in); 0 for the rest. */
export function fxPtr(f: i32): usize {
  if (f == FLD_ACT) return fxCorePtr(4);
  if (f == FLD_Z) return fxCorePtr(8);
  if (f == FLD_TARGET) return pTarget;
  if (f == FLD_Y) return pY;
  if (f == FLD_L) return pL;
  if (f == FLD_ERR) return pErr;
  return 0;
}

/** The formats for the model's decays and threshold (see the file comment); false if out of range. */
export function fxConstants(alpha: f32, kappa: f32, zeta: f32, s: f32, vTh: f32, gamma: f32): bool {
  const wf = min<i32>(max<i32>(12 - ceilLog2(<f64>vTh), 0), 14);
  const vThI = <i32>Math.floor(<f64>vTh * pow2(wf) + 0.5);
  const gainInv = 1 / (1 - <f64>alpha) + 1;
  const traceFrac = max<i32>(0, 16 - (gainInv < 1 ? 0 : min<i32>(floorLog2(gainInv), 64) + 1));
  const elig = bitLen(<f64>vThI) + 4;
  setHi(H_ALPHA, <i32>min<f64>(Math.floor(<f64>alpha * 65536 + 0.5), 65535));
  setHi(H_KAPPA_I, <i32>min<f64>(Math.floor(<f64>kappa * 65536 + 0.5), 65535));
  setHi(H_VTH, vThI);
  setHi(H_TRACE, traceFrac);
  setHi(H_ELIG, elig);
  setHi(H_WFRAC, wf);
  setHf(H_KAPPA, kappa);
  setHf(H_S, s);
  setHf(H_WSCALE, <f32>(<f64>zeta * pow2(wf)));
  const preLsb = <f64>zeta * pow2(-traceFrac);
  setHf(H_PRELSB, <f32>preLsb);
  // one unit of the core's ebar in MODEL.md's units (without s): psi LSB x pre LSB x 2^eligShift
  setHf(H_ELSB, <f32>((<f64>gamma / (<f64>vTh * <f64>vTh)) * pow2(-wf) * preLsb * pow2(elig)));
  setHf(H_LSCALE, <f32>pow2(L_FRAC));
  setHf(H_LR, 0);
  return loadFormats();
}

/**
 * update "step": L_j is quantised with the learning rate folded in, so that the core's
 * w -= rshr(L ebar, accShift) is w -= lr L ebar (MODEL.md units, s included) in weight LSBs.
 */
export function fxUpdateRate(lr: f32): void {
  setHf(H_LR, lr);
  const f = <f64>lr * <f64>hf(H_S) * <f64>hf(H_ELSB) * <f64>hf(H_WSCALE) * pow2(<i32>ACC_SHIFT);
  setHf(H_LSCALE, <f32>f);
}

function loadFormats(): bool {
  return fxCoreFormats(<u32>hi(H_ALPHA), <u32>hi(H_KAPPA_I), hi(H_VTH), DECAY_FRAC, <u32>hi(H_TRACE), MEMBRANE_BITS,
    <u32>hi(H_ELIG), GAIN_SHIFT, ACC_SHIFT);
}

/** A new trial: the core's CLEAR, the readout's state, gradients and the loss (weights kept). */
export function fxReset(): void {
  fxCoreClear();
  const row = <usize>nRec << 2, outs = <usize>nOut << 2;
  if ((flags & F_STEP) == 0) memory.fill(pGOut, 0, <usize>nOut * row);
  memory.fill(pL, 0, row);
  memory.fill(pZk, 0, row);
  memory.fill(pY, 0, outs);
  memory.fill(pErr, 0, outs);
  memory.fill(pGB, 0, outs);
  steps = 0;
  maskedSteps = 0;
  lossSum = 0;
  ok = 0;
  norm = 1;
}

/** Forward half of step t (x^t in FLD_ACT, target^t in FLD_TARGET): the core's STEP, then the readout. */
export function fxForward(mask: f32): void {
  loadFormats();
  fxCoreStep();
  readoutForward(nRec, nRec, nOut, fxCorePtr(8), pSpk, pWOut, pBOut, pY, hf(H_KAPPA), hf(H_S));
  steps++;
  if (mask != 0) maskedSteps++;
  lossSum += stepError(pY, pTarget, pErr, nOut, mask, (flags & F_CE) != 0);
  if (!injectL) learningSignal(nRec, nRec, nOut, pFb, pErr, pL);
}

/** Learning half: L quantised to the core's 16 bits, the core's LEARN, the readout's gradients (or update). */
export function fxLearn(): void {
  loadFormats();
  const scale = hf(H_LSCALE), QL = fxCorePtr(7);
  for (let o: usize = 0, e = <usize>nRec << 2; o < e; o += 4) store<i32>(QL + o, q16f(load<f32>(pL + o) * scale));
  fxCoreLearn();
  const z = fxCorePtr(8), kap = hf(H_KAPPA), s = hf(H_S);
  if ((flags & F_STEP) != 0) ok = readoutUpdate(nRec, nRec, nOut, z, pZk, pErr, pWOut, pBOut, kap, s, ok, hf(H_LR), (flags & F_TRAINBIAS) != 0);
  else ok = readoutGrads(nRec, nRec, nOut, z, pZk, pErr, pGOut, pGB, kap, s, ok);
}

export function fxStep(mask: f32): void {
  fxForward(mask);
  fxLearn();
}

/** Ends the trial: lossReduction (the accumulators are divided when read or applied), trainBias. */
export function fxFinish(): f64 {
  if ((flags & F_STEP) != 0) return lossSum;
  norm = 1;
  if ((flags & F_MEAN) != 0) norm = (flags & F_CE) != 0 ? <f32>maskedSteps : <f32>steps;
  if (norm != 1 && norm > 0) {
    scaleDiv(pGOut, nOut * nRec, norm);
    scaleDiv(pGB, nOut, norm);
  }
  if (!(norm > 0)) norm = 1;
  if ((flags & F_TRAINBIAS) == 0) memory.fill(pGB, 0, <usize>nOut << 2);
  return lossSum / <f64>norm;
}

/** MODEL.md gradient of one accumulator unit. */
function gradLsb(): f64 {
  return <f64>hf(H_ELSB) * <f64>hf(H_S) * pow2(<i32>ACC_SHIFT - L_FRAC) / <f64>norm;
}

/** gd: the core's COMMIT with the learning rate as an integer multiplier and shift; the readout in float32. */
export function fxApplyGd(lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  if ((flags & F_STEP) != 0) return;
  const wScale = <f64>hf(H_WSCALE);
  const c = <f64>lr * gradLsb() * wScale; // weight LSBs per accumulator unit
  let sh: u32 = 0;
  while (c * pow2(sh) < 16384 && sh < 30) sh++;
  fxCoreCommit(q16(c * pow2(sh)), sh);
  if (clip) {
    const lo = q16(<f64>wMin * wScale), hiW = q16(<f64>wMax * wScale);
    const w = fxCorePtr(0), end = w + <usize>nPre * <usize>nRec * 2;
    for (let p = w; p < end; p += 2) store<i16>(p, <i16>min<i32>(max<i32>(<i32>load<i16>(p), lo), hiW));
  }
  gdRange(pWOut, pGOut, nOut, nRec, nRec, lr, clip, wMin, wMax);
  if ((flags & F_TRAINBIAS) != 0) gdRange(pBOut, pGB, 1, nOut, nOut, lr, clip, wMin, wMax);
}

// ---- element access in the host's units (PROTOCOL.md parameter / gradient / state ids) ----

/** Core index of element e of wIn (p 0, [nRec][nIn]) or wRec (p 1, [nRec][nRec]); -1 on the wRec diagonal. */
function synIndex(p: u32, e: i32): i32 {
  const cols = p == 0 ? nIn : nRec;
  const j = e / cols, i = e % cols;
  if (p == 1 && i == j) return -1;
  return ((p == 0 ? 0 : nIn) + i) * nRec + j;
}

/** Writes parameter `p` element `e` (float32 in the host's units). */
export function fxSet(p: u32, e: i32, v: f32): void {
  if (p <= 1) {
    const k = synIndex(p, e);
    if (k >= 0) store<i16>(fxCorePtr(0) + (<usize>k << 1), <i16>q16(<f64>v * <f64>hf(H_WSCALE)));
  } else if (p == 2) store<f32>(pWOut + (<usize>e << 2), v); // [nOut][nRec], stride nRec
  else if (p == 3) store<f32>(pBOut + (<usize>e << 2), v);
  else if (p == 4) store<f32>(pFb + (<usize>((e % nOut) * nRec + e / nOut) << 2), v);
}

/** Reads element `e` of id `p`: parameters (kind 0), gradients (kind 1), state (ids 16..25). */
export function fxGet(p: u32, kind: i32, e: i32): f32 {
  if (p <= 1) {
    const k = synIndex(p, e);
    if (k < 0) return 0;
    if (kind == 0) return <f32>(<f64>load<i16>(fxCorePtr(0) + (<usize>k << 1)) / <f64>hf(H_WSCALE));
    return <f32>(<f64>load<i16>(fxCorePtr(2) + (<usize>k << 1)) * gradLsb());
  }
  if (p == 2) return load<f32>((kind == 0 ? pWOut : pGOut) + (<usize>e << 2));
  if (p == 3) return load<f32>((kind == 0 ? pBOut : pGB) + (<usize>e << 2));
  if (p == 4) return load<f32>(pFb + (<usize>((e % nOut) * nRec + e / nOut) << 2));
  if (p == 16 || p == 17) return <f32>(<f64>load<i32>(fxCorePtr(3) + (<usize>(p == 16 ? e : nIn + e) << 2)) * <f64>hf(H_PRELSB));
  if (p == 20 || p == 21) {
    const k = synIndex(p - 20, e);
    return k < 0 ? 0 : <f32>(<f64>load<u16>(fxCorePtr(1) + (<usize>k << 1)) * <f64>hf(H_ELSB) * <f64>hf(H_S));
  }
  if (p == 22) return <f32>(<f64>load<i32>(fxCorePtr(5) + (<usize>e << 2)) * pow2(-hi(H_WFRAC)));
  if (p == 24) return load<f32>(fxCorePtr(8) + (<usize>e << 2));
  if (p == 25) return load<f32>(pY + (<usize>e << 2));
  return 0;
}
