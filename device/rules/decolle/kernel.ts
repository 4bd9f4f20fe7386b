// DECOLLE kernel, float32, over one arena (../shared/spec/DECOLLE.md). Plain functions over
// the arena, so the Node entry (device/node/entry.ts) and a firmware handler call the same code.
// Host twin: host/rules/decolle/reference.ts (float64).
//
// One step, every layer l bottom-up, with s = x^t (l = 0) or the layer below's S^t:
//   P = alpha P + cP Q;  Q = beta Q + cQ s             (P from the previous Q)
//   U = sum_p W[p] P_p (p ascending, P_p = 0 skipped);  R = alpharp R - wrp S;  U = (U + b) + R
//   S = [U >= 0];  psi = box [-0.5 < U <= 0.5] or sigma(U)(1 - sigma(U))
//   y_k = bG_k + sum over spiking j (ascending) G[k][j];  err = dl/dy; loss accumulated in float64
//   mask 1 only: back = sum_k G[k] err_k (k ascending); delta = psi back + dReg/dU;
//                grad b += delta;  grad W[p] += delta P_p (p ascending, P_p = 0 skipped)
// Matrices are stored pre-major (W[j][p] at p*S + j, S = n rounded up to the lanes), so every
// sum over presynaptic units (or readout units) is an elementwise update over the post neurons
// j in a fixed order: the SIMD build only does 4 neurons at a time and is bit-identical to the
// scalar build. Per-neuron work (spikes, sigmoid, losses) is the same scalar code in both.
import {
  DC_MAX_LAYERS, DC_F_SMOOTHL1, DC_F_CE, DC_F_SIGMOID, DC_F_MEAN, DC_F_ADAM, DC_MAGIC, DC_VERSION,
  H_MAGIC, H_VERSION, H_BYTES, H_L, H_NIN, H_NOUT, H_FLAGS, H_LANES, H_STEPS, H_MASKED, H_ADAMN, H_UPDATES,
  H_UPD_OPT, H_UPD_LR, H_UPD_B1, H_UPD_B2, H_UPD_EPS, H_UPD_CLIP, H_UPD_WMIN, H_UPD_WMAX, H_UPD_DIV, H_X, H_TARGET, H_LOSS,
  HEADER_BYTES, ENTRY_BYTES, T_N, T_NPRE, T_STRIDE, T_ALPHA, T_BETA, T_ALPHARP, T_WRP, T_CQ, T_CP, T_REG, T_FIELDS,
  LF_W, LF_B, LF_G, LF_BG, LF_MW, LF_VW, LF_MB, LF_VB, LF_GW, LF_GB, LF_Q, LF_P, LF_R, LF_U, LF_S, LF_PSI, LF_SIG,
  LF_BACK, LF_DELTA, LF_IDX, LF_Y, LF_ERR, NLF, DC_X, DC_TARGET, DC_LOSS, DC_HEADER,
  layoutStack, stagedGet, stagedSet,
} from "./layout";

/** Row padding of this build: 4 with `--enable simd`, else 1. */
export const DC_LANES: i32 = ASC_FEATURE_SIMD ? 4 : 1;

// Cached from the header by dcConfigure / dcAttach (the arena stays the single source of truth).
let base: usize = 0;
let nLayers: i32 = 0;
let flags: i32 = 0;
let nOut: i32 = 0;

@inline function u32At(o: i32): u32 { return load<u32>(base + <usize>o); }
@inline function setU32(o: i32, v: u32): void { store<u32>(base + <usize>o, v); }
@inline function hF32(o: i32): f32 { return load<f32>(base + <usize>o); }
@inline function f32At(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function setF32(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }
@inline function entry(l: i32): usize { return base + <usize>HEADER_BYTES + <usize>(l * ENTRY_BYTES); }
@inline function tU32(l: i32, o: i32): i32 { return <i32>load<u32>(entry(l) + <usize>o); }
@inline function tF32(l: i32, o: i32): f32 { return load<f32>(entry(l) + <usize>o); }
@inline function lf(l: i32, f: i32): usize { return base + <usize>load<u32>(entry(l) + <usize>T_FIELDS + (<usize>f << 2)); }

// ---------------------------------------------------------------- configuration

/** Stages the sizes of the next dcPlan/dcConfigure. Returns 1, or 0 if out of range (1 <= L <= DC_MAX_LAYERS, nIn, nOut >= 1). */
export function dcShape(L: i32, nIn_: i32, nOut_: i32, flags_: i32): i32 {
  if (L < 1 || L > DC_MAX_LAYERS || nIn_ < 1 || nOut_ < 1) return 0;
  stagedSet(0, L); stagedSet(1, nIn_); stagedSet(2, nOut_); stagedSet(3, flags_);
  return 1;
}

/** Stages n_l of layer l (0-based, after dcShape). Returns 1, or 0 if out of range. */
export function dcShapeLayer(l: i32, n: i32): i32 {
  if (l < 0 || l >= stagedGet(0) || n < 1) return 0;
  stagedSet(4 + l, n);
  return 1;
}

/** Arena bytes of the staged model in this build (nothing is touched). */
export function dcPlan(): u32 {
  return layoutStack(0, DC_LANES, 0);
}

/** Lays the staged model out at `arenaBase` (16-byte aligned, `dcPlan()` bytes, owned by the caller), zeroed; returns its bytes. */
export function dcConfigure(arenaBase: usize): u32 {
  const bytes = layoutStack(0, DC_LANES, 0);
  memory.fill(arenaBase, 0, bytes);
  layoutStack(arenaBase, DC_LANES, 1);
  store<u32>(arenaBase + <usize>H_MAGIC, DC_MAGIC);
  store<u32>(arenaBase + <usize>H_VERSION, DC_VERSION);
  store<i32>(arenaBase + <usize>H_UPD_OPT, -1);
  store<f32>(arenaBase + <usize>H_UPD_DIV, 1);
  cache(arenaBase);
  return bytes;
}

/**
 * Takes over an arena whose bytes were put back at `arenaBase` (a restored checkpoint): checks
 * the magic, version, lanes and that the header and layer table are exactly the layout of the
 * sizes they state. Returns the arena bytes, or 0 (and changes nothing) if it is not one.
 */
export function dcAttach(arenaBase: usize): u32 {
  if (load<u32>(arenaBase + <usize>H_MAGIC) != DC_MAGIC || load<u32>(arenaBase + <usize>H_VERSION) != DC_VERSION) return 0;
  if (load<u32>(arenaBase + <usize>H_LANES) != <u32>DC_LANES) return 0;
  const L = load<i32>(arenaBase + <usize>H_L);
  if (dcShape(L, load<i32>(arenaBase + <usize>H_NIN), load<i32>(arenaBase + <usize>H_NOUT), load<i32>(arenaBase + <usize>H_FLAGS)) == 0) return 0;
  for (let l = 0; l < L; l++) {
    if (dcShapeLayer(l, load<i32>(arenaBase + <usize>HEADER_BYTES + <usize>(l * ENTRY_BYTES) + <usize>T_N)) == 0) return 0;
  }
  const bytes = layoutStack(arenaBase, DC_LANES, 2);
  if (bytes != 0) cache(arenaBase);
  return bytes;
}

function cache(arenaBase: usize): void {
  base = arenaBase;
  nLayers = <i32>u32At(H_L);
  flags = <i32>u32At(H_FLAGS);
  nOut = <i32>u32At(H_NOUT);
}

/** Layer constants (float32 of the host's float64 values): decays, reset strength, trace gains (cQ, cP of traceScale), reg lambda. */
export function dcLayerConstants(l: i32, alpha: f32, beta: f32, alpharp: f32, wrp: f32, cQ: f32, cP: f32, reg: f32): void {
  const e = entry(l);
  store<f32>(e + <usize>T_ALPHA, alpha);
  store<f32>(e + <usize>T_BETA, beta);
  store<f32>(e + <usize>T_ALPHARP, alpharp);
  store<f32>(e + <usize>T_WRP, wrp);
  store<f32>(e + <usize>T_CQ, cQ);
  store<f32>(e + <usize>T_CP, cP);
  store<f32>(e + <usize>T_REG, reg);
}

/** Absolute address of a global field (DC_X, DC_TARGET, DC_LOSS, DC_HEADER). */
export function dcPtr(f: i32): usize {
  if (f == DC_X) return base + <usize>u32At(H_X);
  if (f == DC_TARGET) return base + <usize>u32At(H_TARGET);
  if (f == DC_LOSS) return base + <usize>u32At(H_LOSS);
  return f == DC_HEADER ? base : 0;
}

/** Absolute address of field `f` (LF_*) of layer l. */
export function dcLayerPtr(l: i32, f: i32): usize {
  if (l < 0 || l >= nLayers || f < 0 || f >= NLF) return 0;
  return lf(l, f);
}

/** Row stride (elements) of layer l's matrices. */
export function dcStride(l: i32): i32 { return tU32(l, T_STRIDE); }
export function dcArenaBytes(): u32 { return u32At(H_BYTES); }
export function dcSteps(): i32 { return <i32>u32At(H_STEPS); }
export function dcMasked(): i32 { return <i32>u32At(H_MASKED); }

/** Starts a trial: zeroes traces, state, gradients and losses; keeps W, b, G, bG, Adam moments and update settings. */
export function dcReset(): void {
  for (let l = 0; l < nLayers; l++) {
    const from = lf(l, LF_GW);
    memory.fill(from, 0, lf(l, LF_ERR) + (<usize>nOut << 2) - from);
  }
  memory.fill(dcPtr(DC_LOSS), 0, <usize>nLayers << 3);
  setU32(H_STEPS, 0);
  setU32(H_MASKED, 0);
}

// ---------------------------------------------------------------- step

/** dst[j] += src[j] * a for j < bytes/4: the one elementwise kernel of every matrix product here. */
@inline function addScaled(dst: usize, src: usize, a: f32, bytes: usize): void {
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(a);
    for (let o: usize = 0; o < bytes; o += 16) v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(v128.load(src + o), av)));
  } else {
    for (let o: usize = 0; o < bytes; o += 4) store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o) * a);
  }
}

/** One time step of every layer (x^t in DC_X and target^t in DC_TARGET); mask is mask^t (0 or 1). Applies the per-step update if one is set. */
export function dcStep(mask: f32): void {
  stepLayers(mask, true);
}

/**
 * dcStep without learning (evaluation, e.g. held-out trials): the same dynamics, readouts and
 * masked losses, but no gradient and no per-step update.
 */
export function dcForward(mask: f32): void {
  stepLayers(mask, false);
}

function stepLayers(mask: f32, learning: bool): void {
  let input = dcPtr(DC_X);
  for (let l = 0; l < nLayers; l++) {
    layerStep(l, input, mask, learning);
    input = lf(l, LF_S);
  }
  setU32(H_STEPS, u32At(H_STEPS) + 1);
  if (mask != 0) {
    setU32(H_MASKED, u32At(H_MASKED) + 1);
    if (learning && load<i32>(base + <usize>H_UPD_OPT) >= 0) stepUpdate();
  }
}

function layerStep(l: i32, input: usize, mask: f32, learning: bool): void {
  const n = tU32(l, T_N), nPre = tU32(l, T_NPRE);
  const rowBytes = <usize>tU32(l, T_STRIDE) << 2;
  const alpha = tF32(l, T_ALPHA), beta = tF32(l, T_BETA), alpharp = tF32(l, T_ALPHARP), wrp = tF32(l, T_WRP);
  const cQ = tF32(l, T_CQ), cP = tF32(l, T_CP), reg = tF32(l, T_REG);
  const pQ = lf(l, LF_Q), pP = lf(l, LF_P), pW = lf(l, LF_W), pB = lf(l, LF_B), pR = lf(l, LF_R), pU = lf(l, LF_U);
  const pS = lf(l, LF_S), pPsi = lf(l, LF_PSI), pSig = lf(l, LF_SIG), pIdx = lf(l, LF_IDX);
  // traces: P from the previous Q, then Q takes this step's input
  for (let i = 0; i < nPre; i++) {
    const q = f32At(pQ, i);
    setF32(pP, i, alpha * f32At(pP, i) + cP * q);
    setF32(pQ, i, beta * q + cQ * f32At(input, i));
  }
  // U = W P (p ascending)
  memory.fill(pU, 0, rowBytes);
  for (let p = 0; p < nPre; p++) {
    const pv = f32At(pP, p);
    if (pv != 0) addScaled(pU, pW + <usize>p * rowBytes, pv, rowBytes);
  }
  // neurons
  const box = (flags & DC_F_SIGMOID) == 0;
  const needSig = !box || reg > 0;
  for (let j = 0; j < n; j++) {
    const r = alpharp * f32At(pR, j) - wrp * f32At(pS, j); // S is still S^{t-1}
    setF32(pR, j, r);
    const u = f32At(pU, j) + f32At(pB, j) + r;
    setF32(pU, j, u);
    setF32(pS, j, u >= 0 ? 1 : 0);
    let sg: f32 = 0;
    if (needSig) {
      sg = <f32>1 / (<f32>1 + Mathf.exp(-u));
      setF32(pSig, j, sg);
    }
    setF32(pPsi, j, box ? (u > -0.5 && u <= 0.5 ? <f32>1 : <f32>0) : sg * (<f32>1 - sg));
  }
  // indices of the spiking neurons, ascending (branch-free compaction)
  let spikes = 0;
  for (let j = 0; j < n; j++) {
    store<i32>(pIdx + (<usize>spikes << 2), j);
    spikes += <i32>(f32At(pS, j) != 0);
  }
  // readout and loss
  const pG = lf(l, LF_G), pBG = lf(l, LF_BG), pY = lf(l, LF_Y), pErr = lf(l, LF_ERR);
  for (let k = 0; k < nOut; k++) {
    const row = pG + <usize>k * rowBytes;
    let y = f32At(pBG, k);
    for (let i = 0; i < spikes; i++) y += load<f32>(row + (<usize>load<i32>(pIdx + (<usize>i << 2)) << 2));
    setF32(pY, k, y);
  }
  const loss = stepLoss(pY, dcPtr(DC_TARGET), pErr);
  if (mask == 0) return;
  const pLoss = dcPtr(DC_LOSS) + (<usize>l << 3);
  store<f64>(pLoss, load<f64>(pLoss) + loss);
  if (learning) learn(l, n, nPre, rowBytes, reg);
}

/** err = dl/dy for the model's loss; returns l(y, target) in float64. */
function stepLoss(pY: usize, pT: usize, pErr: usize): f64 {
  let l: f64 = 0;
  if ((flags & DC_F_CE) != 0) {
    let m = f32At(pY, 0);
    for (let k = 1; k < nOut; k++) m = max<f32>(m, f32At(pY, k));
    let sum: f32 = 0;
    for (let k = 0; k < nOut; k++) sum += Mathf.exp(f32At(pY, k) - m);
    const logSum = Mathf.log(sum);
    for (let k = 0; k < nOut; k++) {
      const logp = (f32At(pY, k) - m) - logSum;
      const tk = f32At(pT, k);
      setF32(pErr, k, Mathf.exp(logp) - tk);
      if (tk != 0) l -= <f64>tk * <f64>logp;
    }
    return l;
  }
  const smooth = (flags & DC_F_SMOOTHL1) != 0;
  for (let k = 0; k < nOut; k++) {
    const d = f32At(pY, k) - f32At(pT, k);
    if (smooth) {
      setF32(pErr, k, min<f32>(<f32>1, max<f32>(<f32>-1, d)));
      l += abs<f32>(d) < 1 ? 0.5 * <f64>d * <f64>d : <f64>abs<f32>(d) - 0.5;
    } else {
      setF32(pErr, k, d);
      l += 0.5 * <f64>d * <f64>d;
    }
  }
  return l;
}

/** delta = psi (G^T err) + dReg/dU, then the gradient sums (a step with mask 1). */
function learn(l: i32, n: i32, nPre: i32, rowBytes: usize, reg: f32): void {
  const pBack = lf(l, LF_BACK), pG = lf(l, LF_G), pErr = lf(l, LF_ERR), pPsi = lf(l, LF_PSI), pSig = lf(l, LF_SIG);
  const pU = lf(l, LF_U), pDelta = lf(l, LF_DELTA), pGB = lf(l, LF_GB), pGW = lf(l, LF_GW), pP = lf(l, LF_P);
  memory.fill(pBack, 0, rowBytes);
  for (let k = 0; k < nOut; k++) {
    const e = f32At(pErr, k);
    if (e != 0) addScaled(pBack, pG + <usize>k * rowBytes, e, rowBytes);
  }
  let c: f32 = 0, hm: f32 = 0;
  if (reg > 0) {
    c = reg / <f32>n;
    let s: f32 = 0;
    for (let i = 0; i < n; i++) s += <f32>0.1 - f32At(pSig, i);
    hm = s / <f32>n > 0 ? 1 : 0;
  }
  let any = false;
  for (let j = 0; j < n; j++) {
    let d = f32At(pPsi, j) * f32At(pBack, j);
    if (reg > 0) {
      const sg = f32At(pSig, j);
      d += c * (<f32>1e-2 * (f32At(pU, j) + <f32>0.01 > 0 ? <f32>1 : <f32>0) - <f32>6e-5 * hm * sg * (<f32>1 - sg));
    }
    setF32(pDelta, j, d);
    setF32(pGB, j, f32At(pGB, j) + d);
    any = any || d != 0;
  }
  if (!any) return;
  for (let p = 0; p < nPre; p++) {
    const pv = f32At(pP, p);
    if (pv != 0) addScaled(pGW + <usize>p * rowBytes, pDelta, pv, rowBytes);
  }
}

/** Ends a trial: lossReduction "mean" divides every gradient by M (steps with mask 1, at least 1). Returns the loss (sum of the layer losses). Call once per trial. */
export function dcFinish(): f64 {
  const M = max<u32>(1, u32At(H_MASKED));
  if ((flags & DC_F_MEAN) != 0 && M > 1) divideGrads(<f32>M);
  let loss: f64 = 0;
  for (let l = 0; l < nLayers; l++) loss += dcLayerLoss(l);
  return loss;
}

/** E^l of the trial so far, after lossReduction. */
export function dcLayerLoss(l: i32): f64 {
  const e = load<f64>(dcPtr(DC_LOSS) + (<usize>l << 3));
  return (flags & DC_F_MEAN) != 0 ? e / <f64>max<u32>(1, u32At(H_MASKED)) : e;
}

function divideGrads(d: f32): void {
  for (let l = 0; l < nLayers; l++) {
    const S = tU32(l, T_STRIDE);
    divide(lf(l, LF_GW), tU32(l, T_NPRE) * S, d);
    divide(lf(l, LF_GB), S, d);
  }
}

function divide(p: usize, n: i32, d: f32): void {
  for (let i = 0; i < n; i++) setF32(p, i, f32At(p, i) / d);
}

/** Zeroes the gradient sums (W and b of every layer). */
export function dcZeroGrad(): void {
  for (let l = 0; l < nLayers; l++) {
    const S = <usize>tU32(l, T_STRIDE) << 2;
    memory.fill(lf(l, LF_GW), 0, <usize>tU32(l, T_NPRE) * S);
    memory.fill(lf(l, LF_GB), 0, S);
  }
}

// ---------------------------------------------------------------- optimizer (MODEL.md "Training loop")

@inline function gdRange(w: usize, g: usize, bytes: usize, lr: f32, clip: bool, lo: f32, hi: f32): void {
  if (ASC_FEATURE_SIMD) {
    const lv = f32x4.splat(lr), lov = f32x4.splat(lo), hiv = f32x4.splat(hi);
    for (let o: usize = 0; o < bytes; o += 16) {
      let x = f32x4.sub(v128.load(w + o), f32x4.mul(lv, v128.load(g + o)));
      if (clip) x = f32x4.min(f32x4.max(x, lov), hiv);
      v128.store(w + o, x);
    }
  } else {
    for (let o: usize = 0; o < bytes; o += 4) {
      let x = load<f32>(w + o) - lr * load<f32>(g + o);
      if (clip) x = min<f32>(max<f32>(x, lo), hi);
      store<f32>(w + o, x);
    }
  }
}

@inline function adamRange(w: usize, g: usize, m: usize, v: usize, bytes: usize, lrT: f32, b1: f32, b2: f32, eps: f32): void {
  if (ASC_FEATURE_SIMD) {
    const b1v = f32x4.splat(b1), b2v = f32x4.splat(b2), c1 = f32x4.splat(<f32>1 - b1), c2 = f32x4.splat(<f32>1 - b2);
    const lv = f32x4.splat(lrT), ev = f32x4.splat(eps);
    for (let o: usize = 0; o < bytes; o += 16) {
      const gi = v128.load(g + o);
      const mi = f32x4.add(f32x4.mul(b1v, v128.load(m + o)), f32x4.mul(c1, gi));
      const vi = f32x4.add(f32x4.mul(b2v, v128.load(v + o)), f32x4.mul(f32x4.mul(c2, gi), gi));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.div(f32x4.mul(lv, mi), f32x4.add(f32x4.sqrt(vi), ev))));
    }
  } else {
    for (let o: usize = 0; o < bytes; o += 4) {
      const gi = load<f32>(g + o);
      const mi = b1 * load<f32>(m + o) + (<f32>1 - b1) * gi;
      const vi = b2 * load<f32>(v + o) + (<f32>1 - b2) * gi * gi;
      store<f32>(m + o, mi);
      store<f32>(v + o, vi);
      store<f32>(w + o, load<f32>(w + o) - lrT * mi / (Mathf.sqrt(vi) + eps));
    }
  }
}

/** gd: W -= lr grad W, b -= lr grad b for every layer, then clipped to [wMin, wMax] if clip. */
export function dcApplyGd(lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  for (let l = 0; l < nLayers; l++) {
    const S = <usize>tU32(l, T_STRIDE) << 2;
    gdRange(lf(l, LF_W), lf(l, LF_GW), <usize>tU32(l, T_NPRE) * S, lr, clip, wMin, wMax);
    gdRange(lf(l, LF_B), lf(l, LF_GB), S, lr, clip, wMin, wMax);
  }
  setU32(H_UPDATES, u32At(H_UPDATES) + 1);
}

/** Adam (TensorFlow form) at its n-th step (n >= 1). Returns 1, or 0 if the arena has no Adam state (DC_F_ADAM). */
export function dcApplyAdam(lr: f32, b1: f32, b2: f32, eps: f32, n: i32): i32 {
  if ((flags & DC_F_ADAM) == 0) return 0;
  const lrT = lr * Mathf.sqrt(<f32>1 - Mathf.pow(b2, <f32>n)) / (<f32>1 - Mathf.pow(b1, <f32>n));
  for (let l = 0; l < nLayers; l++) {
    const S = <usize>tU32(l, T_STRIDE) << 2;
    adamRange(lf(l, LF_W), lf(l, LF_GW), lf(l, LF_MW), lf(l, LF_VW), <usize>tU32(l, T_NPRE) * S, lrT, b1, b2, eps);
    adamRange(lf(l, LF_B), lf(l, LF_GB), lf(l, LF_MB), lf(l, LF_VB), S, lrT, b1, b2, eps);
  }
  setU32(H_ADAMN, <u32>n);
  setU32(H_UPDATES, u32At(H_UPDATES) + 1);
  return 1;
}

/** Zeroes the Adam moments and the update counters (a new training run). */
export function dcResetOptimizer(): void {
  if ((flags & DC_F_ADAM) != 0) {
    for (let l = 0; l < nLayers; l++) {
      const from = lf(l, LF_MW);
      memory.fill(from, 0, lf(l, LF_GW) - from);
    }
  }
  setU32(H_ADAMN, 0);
  setU32(H_UPDATES, 0);
}

/**
 * Per-step update (`decolleUpdate: "step"`): opt -1 = off (the gradient is summed over the trial,
 * "trial"), 0 = gd, 1 = Adam. When on, every dcStep with mask 1 ends by dividing that step's
 * gradient by `div` (M for lossReduction "mean", else 1), applying it, and zeroing it.
 * Returns 1, or 0 (nothing set) for Adam without Adam state or a divisor <= 0.
 */
export function dcStepUpdate(opt: i32, lr: f32, b1: f32, b2: f32, eps: f32, clip: bool, wMin: f32, wMax: f32, div: f32): i32 {
  if ((opt == 1 && (flags & DC_F_ADAM) == 0) || !(div > 0)) return 0;
  store<i32>(base + <usize>H_UPD_OPT, opt < 0 ? -1 : opt);
  store<f32>(base + <usize>H_UPD_LR, lr);
  store<f32>(base + <usize>H_UPD_B1, b1);
  store<f32>(base + <usize>H_UPD_B2, b2);
  store<f32>(base + <usize>H_UPD_EPS, eps);
  setU32(H_UPD_CLIP, clip ? 1 : 0);
  store<f32>(base + <usize>H_UPD_WMIN, wMin);
  store<f32>(base + <usize>H_UPD_WMAX, wMax);
  store<f32>(base + <usize>H_UPD_DIV, div);
  return 1;
}

function stepUpdate(): void {
  const div = hF32(H_UPD_DIV);
  if (div != 1) divideGrads(div);
  if (load<i32>(base + <usize>H_UPD_OPT) == 0) dcApplyGd(hF32(H_UPD_LR), u32At(H_UPD_CLIP) != 0, hF32(H_UPD_WMIN), hF32(H_UPD_WMAX));
  else dcApplyAdam(hF32(H_UPD_LR), hF32(H_UPD_B1), hF32(H_UPD_B2), hF32(H_UPD_EPS), <i32>u32At(H_ADAMN) + 1);
  dcZeroGrad();
}
