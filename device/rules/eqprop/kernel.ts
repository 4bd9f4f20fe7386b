// Equilibrium propagation, float32, over one arena (EQPROP.md): relaxation of the layered
// hard-sigmoid network (synchronous clipped steps), free / nudged / -beta phases per sample, the
// contrastive gradient estimate accumulated over samples, and an SGD step with one learning
// rate per layer pair. Plain functions over module state, so the Node entry and a firmware
// handler call the same code; nothing is allocated after eqConfigure.
//
// A handler drives it as:
//   CONFIGURE   eqSetSize(k, n_k) for k = 0..L; bytes = eqPlan(L, flags); (reserve) ; eqConfigure(base, L, flags);
//               eqConstants(beta, epsilon, freeSteps, nudgedSteps)
//   WRITE/READ  W and b at eqPtr(EQ_W|EQ_B, l): row i of W[l] at i * eqStride(l) floats, padding left 0
//   RUN         per sample: x -> eqPtr(EQ_X), y -> eqPtr(EQ_Y); eqSample(res) (training: all phases,
//               gradients accumulate) or eqFree(res) (evaluation); reply prediction and eqLoss();
//               or the same phase by phase, a few steps at a time (see "per-sample API" below)
//   GRADS       read EQ_GW/EQ_GB (sums over the samples since eqClear); eqResidual(phase)
//   APPLY       lr[l] (already divided by the batch size for a mean) -> eqPtr(EQ_LR); eqApply()
//   CHECKPOINT  the whole arena, eqBase() .. + eqArenaBytes()
//
// States stay in [0, 1], so rho(s) = s and rho'(s) = 1 on every reachable state, and a step is
// s <- clip(s - eps (s - h + [k = L] beta (s - y)), 0, 1) with h from the state before the step.
// Weights are stored [post][pre] with the pre index padded to 4: the drive from below is a dot
// product, taken in 4 partial sums (lane q adds pre units q, q+4, ...) then (p0 + p1) + (p2 + p3)
// by both builds; the drive from above and every update are elementwise. So the scalar and the
// SIMD build give the same bits.
import {
  eqLayout, eqOffset, eqPlanBytes, eqPadded, eqSize, EQF_SYMMETRIC,
  EQ_W, EQ_B, EQ_GW, EQ_GB, EQ_LR, EQ_X, EQ_Y, EQ_D, EQ_S0, EQ_SB, EQ_SM, EQ_H, EQ_DS,
} from "./layout";

export { eqSetSize } from "./layout";

let base: usize = 0;
let L: i32 = 0;
let flags: i32 = 0;
let arenaBytes: u32 = 0;
let beta: f32 = 0;
let eps: f32 = 0.5;
let freeSteps: i32 = 1;
let nudgedSteps: i32 = 1;
let lastLoss: f64 = 0;
let resFree: f32 = 0;
let resNudged: f32 = 0;
let resMinus: f32 = 0;

@inline function ptr(f: i32, layer: i32): usize { return base + <usize>eqOffset(f, layer); }
@inline function at(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function put(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }
@inline function bytesOf(k: i32): usize { return <usize>eqPadded(k) << 2; }

/** Arena bytes for the sizes set by eqSetSize, L state layers and the flags (0: invalid); the live arena is untouched. */
export function eqPlan(L_: i32, flags_: i32): u32 {
  return eqPlanBytes(L_, flags_);
}

/**
 * Lays the arena out at `arenaBase` (16-byte aligned, memory provided by the caller), zeroes it
 * and returns its bytes (0 for invalid sizes). Learning rates start at 0.
 */
export function eqConfigure(arenaBase: usize, L_: i32, flags_: i32): u32 {
  const bytes = eqLayout(L_, flags_);
  if (bytes == 0) return 0;
  base = arenaBase;
  L = L_;
  flags = flags_;
  arenaBytes = bytes;
  memory.fill(base, 0, bytes);
  eqClear();
  return bytes;
}

/** beta != 0, 0 < epsilon <= 1, step counts >= 1 (the host validates them). */
export function eqConstants(beta_: f32, epsilon_: f32, freeSteps_: i32, nudgedSteps_: i32): void {
  beta = beta_;
  eps = epsilon_;
  freeSteps = freeSteps_;
  nudgedSteps = nudgedSteps_;
}

export function eqBase(): usize { return base; }
export function eqArenaBytes(): u32 { return arenaBytes; }

/** Absolute address of field f for pair l (W, B, GW, GB) or state layer k (S0, SB, SM, H). */
export function eqPtr(f: i32, layer: i32): usize { return ptr(f, layer); }

/** Row stride in floats of W[l] and GW[l]: n_l padded to 4. */
export function eqStride(l: i32): i32 { return eqPadded(l); }

// ---- vector primitives (bit-identical between builds) ----

/** sum_j w[j] s[j] over `bytes`, as 4 partial sums combined (p0 + p1) + (p2 + p3). */
@inline function dot(w: usize, s: usize, bytes: usize): f32 {
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (let o: usize = 0; o < bytes; o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(w + o), v128.load(s + o)));
    return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  } else {
    let p0: f32 = 0, p1: f32 = 0, p2: f32 = 0, p3: f32 = 0;
    for (let o: usize = 0; o < bytes; o += 16) {
      p0 += load<f32>(w + o) * load<f32>(s + o);
      p1 += load<f32>(w + o, 4) * load<f32>(s + o, 4);
      p2 += load<f32>(w + o, 8) * load<f32>(s + o, 8);
      p3 += load<f32>(w + o, 12) * load<f32>(s + o, 12);
    }
    return (p0 + p1) + (p2 + p3);
  }
}

/** d[j] += a * x[j] over `bytes`. */
@inline function axpy(d: usize, x: usize, a: f32, bytes: usize): void {
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(a);
    for (let o: usize = 0; o < bytes; o += 16) v128.store(d + o, f32x4.add(v128.load(d + o), f32x4.mul(av, v128.load(x + o))));
  } else {
    for (let o: usize = 0; o < bytes; o += 4) store<f32>(d + o, load<f32>(d + o) + a * load<f32>(x + o));
  }
}

// ---- dynamics ----

/** D = W[0] x + b[0]: the input's drive of layer 1, constant during a sample. */
function inputDrive(): void {
  const w = ptr(EQ_W, 0), b = ptr(EQ_B, 0), x = ptr(EQ_X, 0), d = ptr(EQ_D, 0);
  const rowBytes = bytesOf(0);
  const n1 = eqSize(1);
  for (let i = 0; i < n1; i++) put(d, i, dot(w + <usize>i * rowBytes, x, rowBytes) + at(b, i));
}

/** H_k = W[k-1] s_{k-1} + b[k-1] + W[k]^T s_{k+1} for k = 1..L, all from the state S. */
function drives(S: usize): void {
  for (let k = 1; k <= L; k++) {
    const h = ptr(EQ_H, k);
    if (k == 1) {
      memory.copy(h, ptr(EQ_D, 0), bytesOf(1));
    } else {
      const w = ptr(EQ_W, k - 1), b = ptr(EQ_B, k - 1), pre = S + (ptr(EQ_S0, k - 1) - ptr(EQ_S0, 1));
      const rowBytes = bytesOf(k - 1);
      const n = eqSize(k);
      for (let i = 0; i < n; i++) put(h, i, dot(w + <usize>i * rowBytes, pre, rowBytes) + at(b, i));
    }
    if (k < L) {
      // from above: h_k += sum_i s_{k+1}[i] W[k][i][*], rows ascending, silent units skipped
      const w = ptr(EQ_W, k), post = S + (ptr(EQ_S0, k + 1) - ptr(EQ_S0, 1));
      const rowBytes = bytesOf(k);
      const n = eqSize(k + 1);
      for (let i = 0; i < n; i++) {
        const a = at(post, i);
        if (a != 0) axpy(h, w + <usize>i * rowBytes, a, rowBytes);
      }
    }
  }
}

/** One synchronous step of the state S from the drives in H, with nudge b towards Y. */
function update(S: usize, b: f32, nudged: bool): void {
  const h0 = ptr(EQ_H, 1), y = ptr(EQ_Y, 0);
  const outOff = ptr(EQ_H, L) - h0;
  const total = (ptr(EQ_H, L) - h0) + bytesOf(L);
  if (ASC_FEATURE_SIMD) {
    const ev = f32x4.splat(eps), bv = f32x4.splat(b), zero = f32x4.splat(0), one = f32x4.splat(1);
    for (let o: usize = 0; o < total; o += 16) {
      const s = v128.load(S + o);
      let d = f32x4.sub(s, v128.load(h0 + o));
      if (nudged && o >= outOff) d = f32x4.add(d, f32x4.mul(bv, f32x4.sub(s, v128.load(y + (o - outOff)))));
      v128.store(S + o, f32x4.min(one, f32x4.max(zero, f32x4.sub(s, f32x4.mul(ev, d)))));
    }
  } else {
    for (let o: usize = 0; o < total; o += 4) {
      const s = load<f32>(S + o);
      let d = s - load<f32>(h0 + o);
      if (nudged && o >= outOff) d = d + b * (s - load<f32>(y + (o - outOff)));
      store<f32>(S + o, min<f32>(1, max<f32>(0, s - eps * d)));
    }
  }
}

function relax(S: usize, b: f32, nudged: bool, steps: i32): void {
  for (let t = 0; t < steps; t++) {
    drives(S);
    update(S, b, nudged);
  }
}

/** max |s - clip(s - dF_b/ds, 0, 1)| over the units of S (natural residual, EQPROP.md). */
function residual(S: usize, b: f32, nudged: bool): f32 {
  drives(S);
  const h0 = ptr(EQ_H, 1), y = ptr(EQ_Y, 0);
  const outOff = ptr(EQ_H, L) - h0;
  const total = outOff + bytesOf(L);
  let r: f32 = 0;
  for (let o: usize = 0; o < total; o += 4) {
    const s = load<f32>(S + o);
    let d = s - load<f32>(h0 + o);
    if (nudged && o >= outOff) d = d + b * (s - load<f32>(y + (o - outOff)));
    r = max<f32>(r, abs<f32>(s - min<f32>(1, max<f32>(0, s - d))));
  }
  return r;
}

// ---- per-sample API ----
// A sample is a sequence of phases: 0 free (from 0), 1 nudged (from s0, +beta), 2 -beta (from s0,
// symmetric only). eqFree and eqSample run them whole; a firmware handler with a bounded amount
// of work per poll calls the same pieces in the same order, a few relaxation steps at a time:
//   eqPhaseStart(0); eqRelax(0, freeSteps); pred = eqPhaseEnd(0, res);
//   for ph = 1 (, 2): eqPhaseStart(ph); eqRelax(ph, nudgedSteps); eqPhaseEnd(ph, res);
//   eqAccumulate();
// so both give the same bits.

/** The state field of phase 0 (S0), 1 (SB) or 2 (SM), at layer 1. */
@inline function phaseState(phase: i32): usize {
  return ptr(phase == 0 ? EQ_S0 : phase == 1 ? EQ_SB : EQ_SM, 1);
}

@inline function stateBytes(): usize {
  return ptr(EQ_S0, L) - ptr(EQ_S0, 1) + bytesOf(L);
}

/**
 * Starts phase 0 of the sample in EQ_X / EQ_Y (input drive, state 0), or phase 1 / 2 (its state
 * from s0). Phase 2 needs symmetric nudging.
 */
export function eqPhaseStart(phase: i32): void {
  if (phase == 0) {
    inputDrive();
    memory.fill(ptr(EQ_S0, 1), 0, stateBytes());
  } else {
    memory.copy(phaseState(phase), ptr(EQ_S0, 1), stateBytes());
  }
}

/** `steps` relaxation steps of phase 0 (beta 0), 1 (+beta) or 2 (-beta). */
export function eqRelax(phase: i32, steps: i32): void {
  relax(phaseState(phase), phase == 2 ? -beta : phase == 1 ? beta : 0, phase != 0, steps);
}

/**
 * Ends a phase: with `res`, its residual joins eqResidual(phase). Phase 0 also sets eqLoss() =
 * C(s0) and returns the prediction argmax s0_L (first maximum); phases 1, 2 return 0.
 */
export function eqPhaseEnd(phase: i32, res: bool): i32 {
  if (phase != 0) {
    if (res) {
      const r = residual(phaseState(phase), phase == 2 ? -beta : beta, true);
      if (phase == 1) resNudged = max<f32>(resNudged, r);
      else resMinus = max<f32>(resMinus, r);
    }
    return 0;
  }
  const s0 = ptr(EQ_S0, 1);
  if (res) resFree = max<f32>(resFree, residual(s0, 0, false));
  const out = ptr(EQ_S0, L), y = ptr(EQ_Y, 0);
  const nL = eqSize(L);
  let loss: f64 = 0;
  let best = 0;
  for (let i = 0; i < nL; i++) {
    const e = <f64>at(out, i) - <f64>at(y, i);
    loss += e * e;
    if (at(out, i) > at(out, best)) best = i;
  }
  lastLoss = loss / 2;
  return best;
}

/** Adds the sample's estimate (from s^beta and s0, or s^beta and s^-beta) into EQ_GW / EQ_GB. */
export function eqAccumulate(): void {
  accumulate(ptr(EQ_SB, 1), (flags & EQF_SYMMETRIC) != 0 ? ptr(EQ_SM, 1) : ptr(EQ_S0, 1));
}

/** Multiply-adds of 0: one relaxation step, 1: the input drive (once per sample), 2: eqAccumulate. */
export function eqWork(what: i32): u32 {
  let n: u32 = 0;
  if (what == 1) return <u32>eqSize(1) * <u32>eqPadded(0);
  for (let l = 0; l < L; l++) {
    const w = <u32>eqSize(l + 1) * <u32>eqPadded(l);
    if (what == 2) n += w;
    else n += (l > 0 ? w : 0) + (l + 1 < L ? <u32>eqSize(l + 2) * <u32>eqPadded(l + 1) : 0) + <u32>eqPadded(l + 1);
  }
  return n;
}

/**
 * The free phase of the sample in EQ_X / EQ_Y: the state starts at 0 and relaxes `freeSteps`
 * steps into EQ_S0. Sets eqLoss() = C(s0) and returns the prediction argmax s0_L (first
 * maximum). With `res`, the free residual joins eqResidual(0).
 */
export function eqFree(res: bool): i32 {
  eqPhaseStart(0);
  eqRelax(0, freeSteps);
  return eqPhaseEnd(0, res);
}

/**
 * Free phase, nudged phase from s0 and (symmetric) the -beta phase from s0; adds the sample's
 * estimate of dC/dtheta into EQ_GW / EQ_GB. Returns the prediction; eqLoss() is C(s0).
 */
export function eqSample(res: bool): i32 {
  const pred = eqFree(res);
  const phases = (flags & EQF_SYMMETRIC) != 0 ? 2 : 1;
  for (let ph = 1; ph <= phases; ph++) {
    eqPhaseStart(ph);
    eqRelax(ph, nudgedSteps);
    eqPhaseEnd(ph, res);
  }
  eqAccumulate();
  return pred;
}

/**
 * g[l] += coef ((a'_{l+1} - a_{l+1}) a'_l^T + a_{l+1} (a'_l - a_l)^T), gb[l] += coef (a'_{l+1} - a_{l+1}),
 * with a' = the nudged state, a = s0 (one-sided) or s^-beta (symmetric) and a_0 = a'_0 = x: the
 * identity a'b'^T - ab^T = (a'-a)b'^T + a(b'-b)^T of EQPROP.md, which spares part of the cancellation.
 */
function accumulate(A: usize, B: usize): void {
  const coef = <f32>(-1.0 / (<f64>beta * ((flags & EQF_SYMMETRIC) != 0 ? 2.0 : 1.0))); // -1/beta or -1/(2 beta)
  const s1 = ptr(EQ_S0, 1);
  const ds = ptr(EQ_DS, 0);
  for (let l = 0; l < L; l++) {
    const postOff = ptr(EQ_S0, l + 1) - s1;
    const postA = A + postOff, postB = B + postOff;
    const rowBytes = bytesOf(l);
    let preA = ptr(EQ_X, 0);
    if (l > 0) {
      const preOff = ptr(EQ_S0, l) - s1;
      preA = A + preOff;
      const preB = B + preOff;
      if (ASC_FEATURE_SIMD) {
        for (let o: usize = 0; o < rowBytes; o += 16) v128.store(ds + o, f32x4.sub(v128.load(preA + o), v128.load(preB + o)));
      } else {
        for (let o: usize = 0; o < rowBytes; o += 4) store<f32>(ds + o, load<f32>(preA + o) - load<f32>(preB + o));
      }
    }
    const g = ptr(EQ_GW, l), gb = ptr(EQ_GB, l);
    const n = eqSize(l + 1);
    for (let i = 0; i < n; i++) {
      const a = at(postB, i);
      const cda = coef * (at(postA, i) - a);
      const ca = coef * a;
      put(gb, i, at(gb, i) + cda);
      const row = g + <usize>i * rowBytes;
      if (l == 0) {
        if (cda != 0) axpy(row, preA, cda, rowBytes);
      } else if (cda != 0 || ca != 0) {
        if (ASC_FEATURE_SIMD) {
          const cv = f32x4.splat(cda), av = f32x4.splat(ca);
          for (let o: usize = 0; o < rowBytes; o += 16) {
            const t = f32x4.add(f32x4.mul(cv, v128.load(preA + o)), f32x4.mul(av, v128.load(ds + o)));
            v128.store(row + o, f32x4.add(v128.load(row + o), t));
          }
        } else {
          for (let o: usize = 0; o < rowBytes; o += 4) {
            store<f32>(row + o, load<f32>(row + o) + (cda * load<f32>(preA + o) + ca * load<f32>(ds + o)));
          }
        }
      }
    }
  }
}

/** C(s0) of the last sample (float64 sum of the float32 errors). */
export function eqLoss(): f64 { return lastLoss; }

/** Largest residual since eqClear of phase 0 (free), 1 (nudged) or 2 (-beta), for samples run with res. */
export function eqResidual(phase: i32): f32 {
  return phase == 0 ? resFree : phase == 1 ? resNudged : resMinus;
}

/** Zeroes the gradient sums and the residual maxima (a new batch). */
export function eqClear(): void {
  const g = ptr(EQ_GW, 0);
  memory.fill(g, 0, ptr(EQ_LR, 0) - g);
  resFree = 0;
  resNudged = 0;
  resMinus = 0;
}

/** W[l] -= lr[l] GW[l] and b[l] -= lr[l] GB[l] for every pair l, then eqClear(). */
export function eqApply(): void {
  const lr = ptr(EQ_LR, 0);
  for (let l = 0; l < L; l++) {
    const rate = at(lr, l);
    sgd(ptr(EQ_W, l), ptr(EQ_GW, l), rate, <usize>eqSize(l + 1) * bytesOf(l));
    sgd(ptr(EQ_B, l), ptr(EQ_GB, l), rate, bytesOf(l + 1));
  }
  eqClear();
}

@inline function sgd(w: usize, g: usize, rate: f32, bytes: usize): void {
  if (ASC_FEATURE_SIMD) {
    const rv = f32x4.splat(rate);
    for (let o: usize = 0; o < bytes; o += 16) v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.mul(rv, v128.load(g + o))));
  } else {
    for (let o: usize = 0; o < bytes; o += 4) store<f32>(w + o, load<f32>(w + o) - rate * load<f32>(g + o));
  }
}
