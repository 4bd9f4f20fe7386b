// OSTL kernel, float32, over one self-describing arena (../shared/spec/OSTL.md; layout in
// ./layout.ts). Plain functions over module state, so the Node entry (device/node/entry.ts) and
// a firmware handler call the same code; nothing allocates after osConfigure.
//
// Bit-exactness of the scalar and SIMD builds (device/README.md): every per-neuron or
// per-synapse update is elementwise over the post neuron j (pre-major storage), in the same
// order in both builds. The one reduction over j, the spatial learning signal
// delta^{l-1}_i = sum_j W^l[i][j] psi_j delta_j, is summed in four lane-strided partial sums
// (lane m takes j = m, m+4, ... ascending) combined as (s0 + s1) + (s2 + s3) in both builds.
//
// Firmware use: osBegin + osLayer per layer, osPlan() -> bytes, reserve them, osConfigure(base),
// osConstants per layer + osReadout, then WRITE parameters through osPtr. RUN: x^t into
// osPtr(O_ACT, 0)[0..nIn), target^t into osPtr(O_TARGET), osStep(mask) (or osForward only, to
// infer). GRADS: osPtr(O_G, l) (last row = b), O_GOUT, O_GB after osFinish(). APPLY:
// osApplyGd/osApplyAdam. CHECKPOINT: the arena's osArenaBytes() bytes from osBase(); to
// restore, write them back and call osAttach(base), then osValidate().
import {
  MAXL, OSTL_MAGIC, OSTL_VERSION, OF_RESETGRAD, H_MAGIC, H_VERSION, H_BYTES, H_NLAYERS, H_NIN, H_NOUT, H_FLAGS, H_LANES,
  H_STEPS, H_MASKED, H_UPDATES, H_OK, H_LOSS, H_KAPPA, H_N, H_LFLAGS, H_ALPHA, H_RHO, H_VTH, H_GAMMA, HEADER_BYTES,
  O_W, O_BETA, O_MW, O_VW, O_V, O_A, O_Z, O_PSI, O_PSIP, O_CUR, O_DELTA, O_ACT, O_EPSV, O_EPSA, O_EBAR, O_G, NLF,
  O_WOUT, O_BOUT, O_MOUT, O_VOUT, O_MB, O_VB, O_Y, O_ERR, O_TARGET, O_ZK, O_GOUT, O_GB, O_SPK, NFIELDS,
  setConfig, setLayerConfig, cfgLayers, cfgNIn, cfgNOut, cfgModelFlags, layerN, layerFlags, layerPre, padded,
  fieldElems, fieldOffset, layoutArena,
} from "./layout";
import { F_ALIF, F_CE, F_ADAM, F_TRAINBIAS, F_MEAN } from "../../kernels/layout";
import { gdRange, adamRange } from "../../kernels/eprop";
import { stepError } from "../../kernels/loss";

const LANES: i32 = ASC_FEATURE_SIMD ? 4 : 1;
/** Largest synaptic matrix (entries) osPlan accepts: keeps every byte count inside u32. */
const MAX_MATRIX: u64 = 1 << 26;

let base: usize = 0;
let nL: i32 = 0;
let nIn: i32 = 0;
let nOut: i32 = 0;
let flags: i32 = 0;
let arenaBytes: u32 = 0;

@inline function f32At(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function setF32(p: usize, i: i32, x: f32): void { store<f32>(p + (<usize>i << 2), x); }
@inline function hdrI(o: u32): i32 { return load<i32>(base + <usize>o); }
@inline function setHdrI(o: u32, x: i32): void { store<i32>(base + <usize>o, x); }
@inline function hdrF(o: u32, l: i32): f32 { return load<f32>(base + <usize>o + (<usize>l << 2)); }
@inline function setHdrF(o: u32, l: i32, x: f32): void { store<f32>(base + <usize>o + (<usize>l << 2), x); }
@inline function at(f: i32, l: i32): usize { return base + <usize>fieldOffset(f, l); }

/** Starts a configuration: sizes and model flags (F_CE, F_ADAM, F_TRAINBIAS, F_MEAN, OF_RESETGRAD). 1 = ok, 0 = out of range. */
export function osBegin(nIn_: i32, nOut_: i32, nLayers: i32, flags_: i32): i32 {
  if (nLayers < 1 || nLayers > MAXL || nIn_ < 1 || nIn_ > 65535 || nOut_ < 1 || nOut_ > 65535) return 0;
  setConfig(nLayers, nIn_, nOut_, flags_);
  return 1;
}

/** Layer l's size and flags (F_ALIF: some beta != 0). 1 = ok, 0 = out of range. */
export function osLayer(l: i32, n: i32, layerFlags_: i32): i32 {
  if (l < 0 || l >= cfgLayers() || n < 1 || n > 65535) return 0;
  setLayerConfig(l, n, layerFlags_);
  return 1;
}

/** Arena bytes of the configuration (header included), 0 if a layer is missing or a matrix is too large. */
export function osPlan(): u32 {
  const L = cfgLayers();
  if (L < 1) return 0;
  for (let l = 0; l < L; l++) {
    if (layerN(l) < 1) return 0;
    if (<u64>layerPre(l) * <u64>padded(layerN(l), LANES) > MAX_MATRIX) return 0;
  }
  if (<u64>cfgNOut() * <u64>padded(layerN(L - 1), LANES) > MAX_MATRIX) return 0;
  return layoutArena(LANES);
}

function adopt(b: usize, bytes: u32): void {
  base = b;
  arenaBytes = bytes;
  nL = cfgLayers();
  nIn = cfgNIn();
  nOut = cfgNOut();
  flags = cfgModelFlags();
}

/**
 * Lays the configured arena out at `b` (16-byte aligned; the caller owns `osPlan()` bytes there),
 * zeroes it, writes the header and starts a trial. Returns the bytes, 0 if the configuration is invalid.
 */
export function osConfigure(b: usize): u32 {
  const bytes = osPlan();
  if (bytes == 0) return 0;
  memory.fill(b, 0, bytes);
  adopt(b, bytes);
  setHdrI(H_MAGIC, <i32>OSTL_MAGIC);
  setHdrI(H_VERSION, <i32>OSTL_VERSION);
  setHdrI(H_BYTES, <i32>bytes);
  setHdrI(H_NLAYERS, nL);
  setHdrI(H_NIN, nIn);
  setHdrI(H_NOUT, nOut);
  setHdrI(H_FLAGS, flags);
  setHdrI(H_LANES, LANES);
  for (let l = 0; l < nL; l++) {
    store<i32>(base + <usize>H_N + (<usize>l << 2), layerN(l));
    store<i32>(base + <usize>H_LFLAGS + (<usize>l << 2), layerFlags(l));
    setHdrF(H_VTH, l, 1); // until osConstants: keeps psi's gamma/vTh finite
  }
  osReset();
  return bytes;
}

/** Loads the configuration recorded in the header at `b` and lays it out; returns the bytes, or 0 if the header is not an OSTL arena of this build. */
function layoutFromHeader(b: usize): u32 {
  if (load<u32>(b + H_MAGIC) != OSTL_MAGIC || load<u32>(b + H_VERSION) != OSTL_VERSION || load<i32>(b + H_LANES) != LANES) return 0;
  const L = load<i32>(b + H_NLAYERS);
  if (osBegin(load<i32>(b + H_NIN), load<i32>(b + H_NOUT), L, load<i32>(b + H_FLAGS)) == 0) return 0;
  for (let l = 0; l < L; l++) {
    if (osLayer(l, load<i32>(b + H_N + (<usize>l << 2)), load<i32>(b + H_LFLAGS + (<usize>l << 2))) == 0) return 0;
  }
  const bytes = osPlan();
  return bytes == load<u32>(b + H_BYTES) ? bytes : 0;
}

/**
 * Adopts an arena already in memory at `b` (a restored checkpoint): checks the header (magic,
 * version, this build's lanes, sizes, and that they lay out to the recorded byte count).
 * Returns the bytes, or 0 if the header is not an OSTL arena of this build; then the previous
 * arena (if any) stays the current one.
 */
export function osAttach(b: usize): u32 {
  const bytes = layoutFromHeader(b);
  if (bytes == 0) {
    if (arenaBytes != 0) layoutFromHeader(base);
    return 0;
  }
  adopt(b, bytes);
  return bytes;
}

/** Layer l's float32 constants: alpha = exp(-dt/tauMem), rho = exp(-dt/tauAdapt), vTh, gamma (host float64, rounded once). */
export function osConstants(l: i32, alpha: f32, rho: f32, vTh: f32, gamma: f32): void {
  setHdrF(H_ALPHA, l, alpha);
  setHdrF(H_RHO, l, rho);
  setHdrF(H_VTH, l, vTh);
  setHdrF(H_GAMMA, l, gamma);
}

/** The readout decay kappa = exp(-dt/tauOut). */
export function osReadout(kappa: f32): void {
  setHdrF(H_KAPPA, 0, kappa);
}

/** Absolute address of field f (O_* of layout.ts) of layer l (ignored for readout fields); 0 if the model has no such field. */
export function osPtr(f: i32, l: i32): usize {
  if (f < 0 || f >= NFIELDS || (f < NLF && (l < 0 || l >= nL))) return 0;
  return fieldElems(f, f < NLF ? l : 0, LANES) == 0 ? 0 : at(f, l);
}

/** Row stride (elements) of layer l's matrices: n_l rounded up to the lanes. */
export function osStride(l: i32): i32 { return padded(layerN(l), LANES); }
export function osArenaBytes(): u32 { return arenaBytes; }
export function osBase(): usize { return base; }
export function osSteps(): i32 { return hdrI(H_STEPS); }
export function osUpdates(): i32 { return hdrI(H_UPDATES); }

/** Starts a trial: zeroes network state, traces, gradients and the loss; keeps weights, constants and Adam moments. */
export function osReset(): void {
  for (let l = 0; l < nL; l++) {
    const from = at(O_V, l);
    const to = l + 1 < nL ? at(O_W, l + 1) : at(O_WOUT, 0);
    memory.fill(from, 0, to - from);
    setF32(at(O_ACT, l), layerPre(l) - 1, 1); // the bias column's pre = 1
  }
  const y = at(O_Y, 0);
  memory.fill(y, 0, base + <usize>arenaBytes - y);
  setHdrI(H_STEPS, 0);
  setHdrI(H_MASKED, 0);
  setHdrF(H_OK, 0, 0);
  store<f64>(base + <usize>H_LOSS, 0);
}

// ---- forward ----

/** cur_j = sum_p W[p][j] act_p over the P rows (p ascending, zero activities skipped). */
function synapticInput(l: i32, S: i32): void {
  const cur = at(O_CUR, l), act = at(O_ACT, l), w = at(O_W, l);
  const rowBytes = <usize>S << 2;
  memory.fill(cur, 0, rowBytes);
  const P = layerPre(l);
  for (let p = 0; p < P; p++) {
    const a = f32At(act, p);
    if (a == 0) continue;
    const row = w + <usize>p * rowBytes;
    if (ASC_FEATURE_SIMD) {
      const av = f32x4.splat(a);
      for (let o: usize = 0; o < rowBytes; o += 16) v128.store(cur + o, f32x4.add(v128.load(cur + o), f32x4.mul(v128.load(row + o), av)));
    } else {
      for (let o: usize = 0; o < rowBytes; o += 4) store<f32>(cur + o, load<f32>(cur + o) + load<f32>(row + o) * a);
    }
  }
}

/** v = alpha v + cur - vTh z_prev; a = rho a + z_prev; u = v - (vTh + beta a); z = [u > 0]; psi (psi^{t-1} kept first). */
@inline function neurons(l: i32, S: i32, alif: bool, keepPsi: bool): void {
  const pV = at(O_V, l), pA = at(O_A, l), pZ = at(O_Z, l), pPsi = at(O_PSI, l), pPsiP = at(O_PSIP, l);
  const pCur = at(O_CUR, l), pBeta = at(O_BETA, l);
  const alpha = hdrF(H_ALPHA, l), rho = hdrF(H_RHO, l), vTh = hdrF(H_VTH, l);
  const psiScale = hdrF(H_GAMMA, l) / vTh;
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(alpha), rv = f32x4.splat(rho), th = f32x4.splat(vTh), ps = f32x4.splat(psiScale);
    const one = f32x4.splat(1), zero = f32x4.splat(0);
    for (let o: usize = 0; o < (<usize>S << 2); o += 16) {
      const zp = v128.load(pZ + o);
      const v = f32x4.sub(f32x4.add(f32x4.mul(av, v128.load(pV + o)), v128.load(pCur + o)), f32x4.mul(th, zp));
      v128.store(pV + o, v);
      let thr = th;
      if (alif) {
        const a = f32x4.add(f32x4.mul(rv, v128.load(pA + o)), zp);
        v128.store(pA + o, a);
        thr = f32x4.add(th, f32x4.mul(v128.load(pBeta + o), a));
      }
      const u = f32x4.sub(v, thr);
      v128.store(pZ + o, v128.and(f32x4.gt(u, zero), one));
      if (keepPsi) v128.store(pPsiP + o, v128.load(pPsi + o));
      v128.store(pPsi + o, f32x4.mul(ps, f32x4.max(zero, f32x4.sub(one, f32x4.div(f32x4.abs(u), th)))));
    }
  } else {
    for (let j = 0; j < S; j++) {
      const zp = f32At(pZ, j);
      const v = alpha * f32At(pV, j) + f32At(pCur, j) - vTh * zp;
      setF32(pV, j, v);
      let thr = vTh;
      if (alif) {
        const a = rho * f32At(pA, j) + zp;
        setF32(pA, j, a);
        thr = vTh + f32At(pBeta, j) * a;
      }
      const u = v - thr;
      setF32(pZ, j, u > 0 ? 1 : 0);
      if (keepPsi) setF32(pPsiP, j, f32At(pPsi, j));
      setF32(pPsi, j, psiScale * max<f32>(0, <f32>1 - abs<f32>(u) / vTh));
    }
  }
}

/** y = kappa y + (bOut + sum over the top layer's spikes of wOut), then err and the loss. */
function readout(mask: f32): void {
  const top = nL - 1;
  const S = padded(layerN(top), LANES);
  const pZ = at(O_Z, top), spk = at(O_SPK, 0), wOut = at(O_WOUT, 0), bOut = at(O_BOUT, 0);
  const y = at(O_Y, 0), err = at(O_ERR, 0), target = at(O_TARGET, 0);
  const kappa = hdrF(H_KAPPA, 0);
  let n = 0;
  for (let j = 0; j < layerN(top); j++) {
    store<i32>(spk + (<usize>n << 2), j);
    n += <i32>(f32At(pZ, j) != 0);
  }
  for (let k = 0; k < nOut; k++) {
    const row = wOut + <usize>k * (<usize>S << 2);
    let drive = f32At(bOut, k);
    for (let i = 0; i < n; i++) drive += load<f32>(row + (<usize>load<i32>(spk + (<usize>i << 2)) << 2));
    setF32(y, k, kappa * f32At(y, k) + drive);
  }
  setHdrI(H_STEPS, hdrI(H_STEPS) + 1);
  if (mask != 0) setHdrI(H_MASKED, hdrI(H_MASKED) + 1);
  const l = stepError(y, target, err, nOut, mask, (flags & F_CE) != 0);
  store<f64>(base + <usize>H_LOSS, load<f64>(base + <usize>H_LOSS) + l);
}

/**
 * Forward half of step t: x^t in osPtr(O_ACT, 0)[0..nIn), target^t in osPtr(O_TARGET).
 * Runs every layer bottom-up (each sees the layer below at the same step), the readout, err and loss.
 */
export function osForward(mask: f32): void {
  const reset = (flags & OF_RESETGRAD) != 0;
  for (let l = 0; l < nL; l++) {
    if (l > 0) memory.copy(at(O_ACT, l), at(O_Z, l - 1), <usize>layerN(l - 1) << 2);
    const S = padded(layerN(l), LANES);
    synapticInput(l, S);
    const alif = (layerFlags(l) & F_ALIF) != 0;
    if (alif) neurons(l, S, true, true);
    else if (reset) neurons(l, S, false, true);
    else neurons(l, S, false, false);
  }
  readout(mask);
}

// ---- learning ----

/**
 * One presynaptic row p of layer l (pre value pv), elementwise over j:
 *   reset:     eP = psiP (eV - beta eA); eV = alpha eV + pv - vTh eP; eA = rho eA + eP; e = psi (eV - beta eA)
 *   no reset:  eV is the row's scalar xbar (xOld before, xNew after the update), the same for every j
 *   top:       ebar = kappa ebar + e; g += delta ebar      else: g += delta e
 * (LIF: no epsA, beta = 0.)
 */
@inline function traceRow(alif: bool, reset: bool, top: bool, l: i32, p: i32, S: i32, pv: f32, xOld: f32, xNew: f32): void {
  const rowBytes = <usize>S << 2;
  const off = <usize>p * rowBytes;
  const pEV = at(O_EPSV, l) + off, pEA = at(O_EPSA, l) + off, pEB = at(O_EBAR, l) + off, pG = at(O_G, l) + off;
  const pPsi = at(O_PSI, l), pPsiP = at(O_PSIP, l), pBeta = at(O_BETA, l), pD = at(O_DELTA, l);
  const alpha = hdrF(H_ALPHA, l), rho = hdrF(H_RHO, l), vTh = hdrF(H_VTH, l), kappa = hdrF(H_KAPPA, 0);
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(alpha), rv = f32x4.splat(rho), th = f32x4.splat(vTh), kv = f32x4.splat(kappa);
    const pvv = f32x4.splat(pv), xo = f32x4.splat(xOld), xn = f32x4.splat(xNew);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      let e: v128;
      if (reset) {
        const eV = v128.load(pEV + o);
        if (alif) {
          const b = v128.load(pBeta + o), eA = v128.load(pEA + o);
          const eP = f32x4.mul(v128.load(pPsiP + o), f32x4.sub(eV, f32x4.mul(b, eA)));
          const nV = f32x4.sub(f32x4.add(f32x4.mul(av, eV), pvv), f32x4.mul(th, eP));
          const nA = f32x4.add(f32x4.mul(rv, eA), eP);
          v128.store(pEV + o, nV);
          v128.store(pEA + o, nA);
          e = f32x4.mul(v128.load(pPsi + o), f32x4.sub(nV, f32x4.mul(b, nA)));
        } else {
          const eP = f32x4.mul(v128.load(pPsiP + o), eV);
          const nV = f32x4.sub(f32x4.add(f32x4.mul(av, eV), pvv), f32x4.mul(th, eP));
          v128.store(pEV + o, nV);
          e = f32x4.mul(v128.load(pPsi + o), nV);
        }
      } else if (alif) {
        const b = v128.load(pBeta + o), eA = v128.load(pEA + o);
        const eP = f32x4.mul(v128.load(pPsiP + o), f32x4.sub(xo, f32x4.mul(b, eA)));
        const nA = f32x4.add(f32x4.mul(rv, eA), eP);
        v128.store(pEA + o, nA);
        e = f32x4.mul(v128.load(pPsi + o), f32x4.sub(xn, f32x4.mul(b, nA)));
      } else {
        e = f32x4.mul(v128.load(pPsi + o), xn);
      }
      if (top) {
        e = f32x4.add(f32x4.mul(kv, v128.load(pEB + o)), e);
        v128.store(pEB + o, e);
      }
      v128.store(pG + o, f32x4.add(v128.load(pG + o), f32x4.mul(v128.load(pD + o), e)));
    }
  } else {
    for (let o: usize = 0; o < rowBytes; o += 4) {
      let e: f32;
      if (reset) {
        const eV = load<f32>(pEV + o);
        if (alif) {
          const b = load<f32>(pBeta + o), eA = load<f32>(pEA + o);
          const eP = load<f32>(pPsiP + o) * (eV - b * eA);
          const nV = alpha * eV + pv - vTh * eP;
          const nA = rho * eA + eP;
          store<f32>(pEV + o, nV);
          store<f32>(pEA + o, nA);
          e = load<f32>(pPsi + o) * (nV - b * nA);
        } else {
          const eP = load<f32>(pPsiP + o) * eV;
          const nV = alpha * eV + pv - vTh * eP;
          store<f32>(pEV + o, nV);
          e = load<f32>(pPsi + o) * nV;
        }
      } else if (alif) {
        const b = load<f32>(pBeta + o), eA = load<f32>(pEA + o);
        const eP = load<f32>(pPsiP + o) * (xOld - b * eA);
        const nA = rho * eA + eP;
        store<f32>(pEA + o, nA);
        e = load<f32>(pPsi + o) * (xNew - b * nA);
      } else {
        e = load<f32>(pPsi + o) * xNew;
      }
      if (top) {
        e = kappa * load<f32>(pEB + o) + e;
        store<f32>(pEB + o, e);
      }
      store<f32>(pG + o, load<f32>(pG + o) + load<f32>(pD + o) * e);
    }
  }
}

@inline function layerRows(alif: bool, reset: bool, top: bool, l: i32): void {
  const S = padded(layerN(l), LANES);
  const act = at(O_ACT, l), xbar = at(O_EPSV, l);
  const alpha = hdrF(H_ALPHA, l);
  const P = layerPre(l);
  for (let p = 0; p < P; p++) {
    const pv = f32At(act, p);
    if (reset) {
      traceRow(alif, true, top, l, p, S, pv, 0, 0);
    } else {
      const xOld = f32At(xbar, p);
      const xNew = alpha * xOld + pv;
      setF32(xbar, p, xNew);
      traceRow(alif, false, top, l, p, S, pv, xOld, xNew);
    }
  }
}

function learnLayer(l: i32, top: bool): void {
  const alif = (layerFlags(l) & F_ALIF) != 0;
  const reset = (flags & OF_RESETGRAD) != 0;
  if (top) {
    if (alif) { if (reset) layerRows(true, true, true, l); else layerRows(true, false, true, l); }
    else { if (reset) layerRows(false, true, true, l); else layerRows(false, false, true, l); }
  } else {
    if (alif) { if (reset) layerRows(true, true, false, l); else layerRows(true, false, false, l); }
    else { if (reset) layerRows(false, true, false, l); else layerRows(false, false, false, l); }
  }
}

/** sum_j w[j] q[j] as four lane-strided partial sums, (s0 + s1) + (s2 + s3): the same bits in both builds. */
@inline function dot4(w: usize, q: usize, n: i32, S: i32): f32 {
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (let o: usize = 0; o < (<usize>S << 2); o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(w + o), v128.load(q + o)));
    return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  }
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += f32At(w, j) * f32At(q, j);
    s1 += f32At(w, j + 1) * f32At(q, j + 1);
    s2 += f32At(w, j + 2) * f32At(q, j + 2);
    s3 += f32At(w, j + 3) * f32At(q, j + 3);
  }
  if (j < n) s0 += f32At(w, j) * f32At(q, j);
  if (j + 1 < n) s1 += f32At(w, j + 1) * f32At(q, j + 1);
  if (j + 2 < n) s2 += f32At(w, j + 2) * f32At(q, j + 2);
  return (s0 + s1) + (s2 + s3);
}

/** delta^{l-1}_i = sum_j W^l[i][j] psi^l_j delta^l_j (the spatial learning signal one layer down, same step). */
function deltaDown(l: i32): void {
  const n = layerN(l);
  const S = padded(n, LANES);
  const q = at(O_CUR, l), psi = at(O_PSI, l), d = at(O_DELTA, l);
  for (let j = 0; j < S; j++) setF32(q, j, f32At(psi, j) * f32At(d, j));
  const w = at(O_W, l), below = at(O_DELTA, l - 1);
  const rowBytes = <usize>S << 2;
  for (let i = 0; i < layerN(l - 1); i++) setF32(below, i, dot4(w + <usize>i * rowBytes, q, n, S));
}

/** Learning half of step t (after osForward): readout gradients, learning signals, traces and gradients of every layer. */
export function osLearn(): void {
  const top = nL - 1;
  const nTop = layerN(top);
  const S = padded(nTop, LANES);
  const kappa = hdrF(H_KAPPA, 0);
  const ok = kappa * hdrF(H_OK, 0) + 1;
  setHdrF(H_OK, 0, ok);
  const zk = at(O_ZK, 0), z = at(O_Z, top), err = at(O_ERR, 0), gOut = at(O_GOUT, 0), gB = at(O_GB, 0);
  const wOut = at(O_WOUT, 0), delta = at(O_DELTA, top);
  for (let j = 0; j < nTop; j++) setF32(zk, j, kappa * f32At(zk, j) + f32At(z, j));
  memory.fill(delta, 0, <usize>S << 2);
  for (let k = 0; k < nOut; k++) {
    const e = f32At(err, k);
    const g = gOut + <usize>k * (<usize>S << 2);
    const w = wOut + <usize>k * (<usize>S << 2);
    for (let j = 0; j < nTop; j++) {
      setF32(g, j, f32At(g, j) + e * f32At(zk, j));
      setF32(delta, j, f32At(delta, j) + f32At(w, j) * e);
    }
    setF32(gB, k, f32At(gB, k) + e * ok);
  }
  for (let l = top; l >= 0; l--) {
    learnLayer(l, l == top);
    if (l > 0) deltaDown(l);
  }
}

/** One full time step: osForward then osLearn. */
export function osStep(mask: f32): void {
  osForward(mask);
  osLearn();
}

function divide(p: usize, n: i32, d: f32): void {
  for (let i = 0; i < n; i++) setF32(p, i, f32At(p, i) / d);
}

/** Ends the trial: lossReduction "mean" divides the gradients; trainBias off zeroes bOut's. Returns the task loss. */
export function osFinish(): f64 {
  let norm: f32 = 1;
  if ((flags & F_MEAN) != 0) norm = <f32>((flags & F_CE) != 0 ? hdrI(H_MASKED) : hdrI(H_STEPS));
  if (norm != 1 && norm > 0) {
    for (let l = 0; l < nL; l++) divide(at(O_G, l), layerPre(l) * padded(layerN(l), LANES), norm);
    divide(at(O_GOUT, 0), nOut * padded(layerN(nL - 1), LANES), norm);
    divide(at(O_GB, 0), nOut, norm);
  }
  if ((flags & F_TRAINBIAS) == 0) memory.fill(at(O_GB, 0), 0, <usize>nOut << 2);
  const loss = load<f64>(base + <usize>H_LOSS);
  return norm > 0 ? loss / <f64>norm : loss;
}

// ---- weight application (MODEL.md "Training loop"); padding lanes are never touched ----

/** gd: every W^l and b^l, wOut (and bOut with trainBias) -= lr g, then clipped to [wMin, wMax] if clip. */
export function osApplyGd(lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  for (let l = 0; l < nL; l++) gdRange(at(O_W, l), at(O_G, l), layerPre(l), layerN(l), padded(layerN(l), LANES), lr, clip, wMin, wMax);
  const nTop = layerN(nL - 1);
  gdRange(at(O_WOUT, 0), at(O_GOUT, 0), nOut, nTop, padded(nTop, LANES), lr, clip, wMin, wMax);
  if ((flags & F_TRAINBIAS) != 0) gdRange(at(O_BOUT, 0), at(O_GB, 0), 1, nOut, nOut, lr, clip, wMin, wMax);
  setHdrI(H_UPDATES, hdrI(H_UPDATES) + 1);
}

/** adam (TensorFlow form) at its n-th step (n >= 1); needs F_ADAM (returns false without it). */
export function osApplyAdam(lr: f32, b1: f32, b2: f32, eps: f32, n: i32): bool {
  if ((flags & F_ADAM) == 0) return false;
  const lrT = lr * Mathf.sqrt(<f32>1 - Mathf.pow(b2, <f32>n)) / (<f32>1 - Mathf.pow(b1, <f32>n));
  for (let l = 0; l < nL; l++) {
    adamRange(at(O_W, l), at(O_G, l), at(O_MW, l), at(O_VW, l), layerPre(l), layerN(l), padded(layerN(l), LANES), lrT, b1, b2, eps);
  }
  const nTop = layerN(nL - 1);
  adamRange(at(O_WOUT, 0), at(O_GOUT, 0), at(O_MOUT, 0), at(O_VOUT, 0), nOut, nTop, padded(nTop, LANES), lrT, b1, b2, eps);
  if ((flags & F_TRAINBIAS) != 0) adamRange(at(O_BOUT, 0), at(O_GB, 0), at(O_MB, 0), at(O_VB, 0), 1, nOut, nOut, lrT, b1, b2, eps);
  setHdrI(H_UPDATES, hdrI(H_UPDATES) + 1);
  return true;
}

/** Zeroes the Adam moments and the update count (a new training run). */
export function osResetOptimizer(): void {
  if ((flags & F_ADAM) != 0) {
    for (let l = 0; l < nL; l++) memory.fill(at(O_MW, l), 0, at(O_V, l) - at(O_MW, l));
    memory.fill(at(O_MOUT, 0), 0, at(O_Y, 0) - at(O_MOUT, 0));
  }
  setHdrI(H_UPDATES, 0);
}

/** Byte offset of the first negative element of field f (of layer l), or -1. */
function firstNegative(f: i32, l: i32): i32 {
  const p = at(f, l);
  const n = fieldElems(f, l, LANES);
  for (let i = 0; i < n; i++) if (f32At(p, i) < 0) return <i32>(p - base) + (i << 2);
  return -1;
}

/**
 * Checks a restored arena before it is trusted: every f32 after the header finite, the
 * constants finite with vTh > 0, Adam's second moments >= 0, counters >= 0.
 * Returns -1 if it is sound, else the byte offset (from the base) of the first bad value.
 */
export function osValidate(): i32 {
  if (hdrI(H_STEPS) < 0) return <i32>H_STEPS;
  if (hdrI(H_MASKED) < 0 || hdrI(H_MASKED) > hdrI(H_STEPS)) return <i32>H_MASKED;
  if (hdrI(H_UPDATES) < 0) return <i32>H_UPDATES;
  if (!isFinite(hdrF(H_OK, 0))) return <i32>H_OK;
  if (!isFinite(load<f64>(base + <usize>H_LOSS))) return <i32>H_LOSS;
  if (!isFinite(hdrF(H_KAPPA, 0))) return <i32>H_KAPPA;
  for (let l = 0; l < nL; l++) {
    if (!isFinite(hdrF(H_ALPHA, l))) return <i32>H_ALPHA + (l << 2);
    if (!isFinite(hdrF(H_RHO, l))) return <i32>H_RHO + (l << 2);
    if (!isFinite(hdrF(H_GAMMA, l))) return <i32>H_GAMMA + (l << 2);
    if (!(hdrF(H_VTH, l) > 0)) return <i32>H_VTH + (l << 2);
  }
  // O_SPK holds small i32 indices: as f32 they are subnormal, hence finite.
  for (let o = HEADER_BYTES; o < arenaBytes; o += 4) {
    if (!isFinite(load<f32>(base + <usize>o))) return <i32>o;
  }
  if ((flags & F_ADAM) != 0) {
    for (let l = 0; l < nL; l++) {
      const bad = firstNegative(O_VW, l);
      if (bad >= 0) return bad;
    }
    const badOut = firstNegative(O_VOUT, 0);
    if (badOut >= 0) return badOut;
    const badB = firstNegative(O_VB, 0);
    if (badB >= 0) return badB;
  }
  return -1;
}
