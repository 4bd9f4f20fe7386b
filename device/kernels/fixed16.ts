// Fixed-point LIF layer with e-prop eligibility, for cores without an FPU: the integer arithmetic
// of the FPGA core, operation for operation (fpga/golden.ts is its bit-exact TypeScript model,
// fpga/README.md "Number formats" the definition; tests/fixed16-golden.test.ts ties the two on
// the same configuration). i32 operations only (u32/i64 where a product needs them), 16-bit
// weights, traces, eligibility, accumulators and learning signals.
//
//   STEP   pre_p = satU16(rshr(alpha pre_p, decayFrac) + s_p 2^traceFrac)     s_p = x_p^t or z^{t-1}
//          v_j   = satS_mb(rshr(alpha v_j, decayFrac) + sum_{p: s_p} w[p][j] - z_j^{t-1} vTh)
//          z_j   = v_j > vTh;  h_j = max(0, vTh - |v_j - vTh|)
//   LEARN  filtered: e = satU16(rshr(h_j pre_p, eligShift)); ebar = satU16(rshr(kappa ebar, decayFrac) + e)
//                    trial: acc = satS16(acc + rshr(L_j ebar, accShift));  step: w = satS16(w - rshr(L_j ebar, accShift))
//          online:   g_j = satS16(rshr(L_j h_j, gainShift)); trial: acc += rshr(g_j pre_p, accShift) (sat); step: w -= (sat)
//   COMMIT w = satS16(w - rshr(acc c, cShift)); acc = 0     (the FPGA core's COMMIT is c = 1, cShift = commitShift)
// rshr(x, s) = floor((x + 2^(s-1)) / 2^s), round half up; the wRec diagonal is 0 (no eligibility,
// no update). Differences from fpga/golden.ts are storage only: matrices are pre-major like the
// float32 kernel's (w[p][j] at p nRec + j, post neuron contiguous), spikes are float32 0/1 (the
// readout of device/kernels/fixed16-eprop.ts reads the same z), and the network is always
// recurrent (MODEL.md's; the FPGA core's feed-forward configuration is this one with wRec = 0
// as long as the weights are fixed, i.e. within a trial).
//
// Limits of the i32 arithmetic (checked by fxCoreFormats): decayFrac <= 16, vTh < 2^15,
// membrane width <= 31, shifts <= 31, nIn + nRec <= 65535.

/** LEARN without ebar memory (the core's `online` mode). */
export const FX_ONLINE: i32 = 1;
/** LEARN updates the weights every step (no accumulator; the core's `update: step`). */
export const FX_STEP: i32 = 2;

// ---- configuration ----
let nIn: i32 = 0;
let nRec: i32 = 0;
let nPre: i32 = 0;
let mode: i32 = 0;
let alphaInt: u32 = 0, kappaInt: u32 = 0, vThInt: i32 = 0;
let decayFrac: u32 = 16, traceFrac: u32 = 0, eligShift: u32 = 0, gainShift: u32 = 0, accShift: u32 = 0;
let vMin: i32 = 0, vMax: i32 = 0;

// ---- field addresses (set by fxCoreLayout) ----
let pW: usize = 0, pEb: usize = 0, pAcc: usize = 0, pPre: usize = 0, pV: usize = 0, pH: usize = 0;
let pQl: usize = 0, pCur: usize = 0, pG: usize = 0, pAct: usize = 0, pZ: usize = 0;

@inline function align16(x: usize): usize { return (x + 15) & ~(<usize>15); }
@inline function sat16(x: i32): i32 { return min<i32>(max<i32>(x, -32768), 32767); }
@inline function satU16(x: i32): i32 { return min<i32>(max<i32>(x, 0), 65535); }
/** rshr of an unsigned value that leaves room for the rounding bit (x + 2^(s-1) < 2^32). */
@inline function rshrU(x: u32, s: u32): u32 { return (x + ((<u32>1 << s) >> 1)) >> s; }
/** A nonzero float32 (a spike), tested on its bits: no float compare on FPU-less cores. */
@inline function spikes(p: usize): bool { return (load<u32>(p) << 1) != 0; }

// rshr of a signed product |x| < 2^31 - 2^16 without the overflow of x + 2^(s-1): for s >= 2,
// floor((x + 2^(s-1)) / 2^s) == ((x >> 1) + 2^(s-2)) >> (s-1) (x's low bit cannot carry into
// bit s-1); s = 1 and s = 0 round as usual. Split into three constants per shift by rshrSplit.
@inline function rshrS(x: i32, h: i32, r: i32, k: i32): i32 { return ((x >> h) + r) >> k; }
let accH: i32 = 0, accR: i32 = 0, accK: i32 = 0, gainH: i32 = 0, gainR: i32 = 0, gainK: i32 = 0;
function splitH(s: u32): i32 { return s >= 2 ? 1 : 0; }
function splitR(s: u32): i32 { return s >= 2 ? 1 << (s - 2) : s == 1 ? 1 : 0; }
function splitK(s: u32): i32 { return s >= 2 ? <i32>s - 1 : <i32>s; }

/** Lays the core's fields out from `base` (16-byte aligned) and returns the bytes they take. */
export function fxCoreLayout(base: usize, nIn_: i32, nRec_: i32, mode_: i32): u32 {
  nIn = nIn_;
  nRec = nRec_;
  nPre = nIn_ + nRec_;
  mode = mode_;
  const syn = <usize>nPre * <usize>nRec * 2;
  const neu = <usize>nRec << 2;
  let at = base;
  pW = at; at = align16(at + syn);
  pEb = at; if ((mode & FX_ONLINE) == 0) at = align16(at + syn);
  pAcc = at; if ((mode & FX_STEP) == 0) at = align16(at + syn);
  pPre = at; at = align16(at + (<usize>nPre << 2));
  pAct = at; at = align16(at + (<usize>nPre << 2));
  pV = at; at = align16(at + neu);
  pH = at; at = align16(at + neu);
  pQl = at; at = align16(at + neu);
  pCur = at; at = align16(at + neu);
  pG = at; at = align16(at + neu);
  pZ = at; at = align16(at + neu);
  return <u32>(at - base);
}

/**
 * The integer constants of fpga/config.ts derive(): alpha and kappa in decayFrac bits, vTh in
 * weight units, the trace scale and the three shifts, the membrane width. Returns false if they
 * leave the i32 arithmetic's range (see the file comment).
 */
export function fxCoreFormats(alpha_: u32, kappa_: u32, vTh_: i32, decayFrac_: u32, traceFrac_: u32, membraneBits: u32,
  eligShift_: u32, gainShift_: u32, accShift_: u32): bool {
  if (decayFrac_ > 16 || alpha_ >= (<u32>1 << decayFrac_) || kappa_ >= (<u32>1 << decayFrac_)) return false;
  if (vTh_ < 1 || vTh_ >= 32768 || membraneBits < 17 || membraneBits > 31 || traceFrac_ > 15) return false;
  if (eligShift_ > 31 || gainShift_ > 31 || accShift_ > 31 || nPre > 65535) return false;
  alphaInt = alpha_; kappaInt = kappa_; vThInt = vTh_; decayFrac = decayFrac_; traceFrac = traceFrac_;
  eligShift = eligShift_; gainShift = gainShift_; accShift = accShift_;
  accH = splitH(accShift_); accR = splitR(accShift_); accK = splitK(accShift_);
  gainH = splitH(gainShift_); gainR = splitR(gainShift_); gainK = splitK(gainShift_);
  vMax = (1 << (membraneBits - 1)) - 1;
  vMin = -vMax - 1;
  return true;
}

/** Field addresses: 0 w (i16), 1 ebar (u16), 2 acc (i16), 3 pre (i32), 4 act (f32 spikes in), 5 v, 6 h, 7 L (i32), 8 z (f32). */
export function fxCorePtr(f: i32): usize {
  switch (f) {
    case 0: return pW;
    case 1: return (mode & FX_ONLINE) == 0 ? pEb : 0;
    case 2: return (mode & FX_STEP) == 0 ? pAcc : 0;
    case 3: return pPre;
    case 4: return pAct;
    case 5: return pV;
    case 6: return pH;
    case 7: return pQl;
    case 8: return pZ;
  }
  return 0;
}

/** CLEAR (a new trial): membranes, spikes, traces, ebar and accumulators to 0; weights kept. */
export function fxCoreClear(): void {
  const syn = <usize>nPre * <usize>nRec * 2;
  if ((mode & FX_ONLINE) == 0) memory.fill(pEb, 0, syn);
  if ((mode & FX_STEP) == 0) memory.fill(pAcc, 0, syn);
  memory.fill(pPre, 0, <usize>nPre << 2);
  memory.fill(pAct + (<usize>nIn << 2), 0, <usize>nRec << 2);
  memory.fill(pV, 0, <usize>nRec << 2);
  memory.fill(pH, 0, <usize>nRec << 2);
  memory.fill(pZ, 0, <usize>nRec << 2);
}

/** cur[j] += w[p][j] over one row of i16 weights. */
function addRowI16(cur: usize, w: usize, n: i32): void {
  const end = cur + (<usize>n << 2), end4 = cur + (<usize>(n & ~3) << 2);
  while (cur < end4) {
    store<i32>(cur, load<i32>(cur) + <i32>load<i16>(w));
    store<i32>(cur, load<i32>(cur, 4) + <i32>load<i16>(w, 2), 4);
    store<i32>(cur, load<i32>(cur, 8) + <i32>load<i16>(w, 4), 8);
    store<i32>(cur, load<i32>(cur, 12) + <i32>load<i16>(w, 6), 12);
    cur += 16;
    w += 8;
  }
  for (; cur < end; cur += 4, w += 2) store<i32>(cur, load<i32>(cur) + <i32>load<i16>(w));
}

/** STEP: x^t (nonzero = spike) must be in act[0..nIn); writes z^t (0/1) and h^t. */
export function fxCoreStep(): void {
  const n = nRec, act = pAct, pre = pPre, cur = pCur, V = pV, H = pH, Z = pZ;
  const a = alphaInt, df = decayFrac, spike: u32 = <u32>1 << traceFrac, th = vThInt, lo = vMin, hi = vMax;
  // act[nIn + i] = z_i^{t-1}
  memory.copy(act + (<usize>nIn << 2), Z, <usize>n << 2);
  // presynaptic traces, all before the forward pass (xbar^t for inputs, zbar^{t-1} for recurrent)
  const preEnd = pre + (<usize>nPre << 2);
  for (let p = pre, s = act; p < preEnd; p += 4, s += 4) {
    const x = rshrU(load<u32>(p) * a, df) + (spikes(s) ? spike : 0);
    store<u32>(p, min<u32>(x, 65535));
  }
  // synaptic sums (exact integers: the order does not matter)
  memory.fill(cur, 0, <usize>n << 2);
  const rowBytes = <usize>n << 1;
  let row = pW;
  for (let s = act, e = act + (<usize>nPre << 2); s < e; s += 4, row += rowBytes) {
    if (spikes(s)) addRowI16(cur, row, n);
  }
  // neurons (the membrane leak in i64: v has up to 31 bits, alpha 16)
  const zPrev = act + (<usize>nIn << 2);
  const round: i64 = df > 0 ? <i64>1 << (df - 1) : 0;
  for (let o: usize = 0, e = <usize>n << 2; o < e; o += 4) {
    const leak = (<i64>load<i32>(V + o) * <i64>a + round) >> df;
    let v = leak + <i64>load<i32>(cur + o) - (spikes(zPrev + o) ? <i64>th : 0);
    v = v < <i64>lo ? <i64>lo : v > <i64>hi ? <i64>hi : v;
    const vn = <i32>v;
    store<i32>(V + o, vn);
    store<f32>(Z + o, vn > th ? 1 : 0);
    const ad = abs<i32>(vn - th);
    store<i32>(H + o, ad < th ? th - ad : 0);
  }
}

/** LEARN with the integer learning signals L_j in field 7; see the file comment. */
export function fxCoreLearn(): void {
  if (mode == 0) learnFilteredTrial();
  else learnOther();
  // the wRec diagonal has no eligibility and no update
  const n = nRec;
  for (let i = 0; i < n; i++) {
    const d = (<usize>(nIn + i) * <usize>n + <usize>i) << 1;
    if ((mode & FX_ONLINE) == 0) store<u16>(pEb + d, 0);
    store<i16>(((mode & FX_STEP) != 0 ? pW : pAcc) + d, 0);
  }
}

// The hot path (filtered eligibility, trial update: the firmware's default): two presynaptic rows
// and four neurons per pass, h_j and L_j loaded once for both rows. Same operations as learnOther.
function learnFilteredTrial(): void {
  const n = nRec, rowBytes = <usize>n << 1;
  const es = eligShift, rE = <i32>((<u32>1 << es) >> 1), k = <i32>kappaInt, df = decayFrac, rD = <i32>((<u32>1 << df) >> 1);
  const ah = accH, ar = accR, ak = accK;
  const H = pH, QL = pQl, hEnd4 = H + (<usize>(n & ~3) << 2), hEnd = H + (<usize>n << 2);
  const preEnd = pPre + (<usize>nPre << 2);
  let eb0 = pEb, ac0 = pAcc, pre = pPre;
  for (; pre + 4 < preEnd; pre += 8) {
    const pv0 = load<i32>(pre), pv1 = load<i32>(pre, 4);
    let eb1 = eb0 + rowBytes, ac1 = ac0 + rowBytes;
    let h = H, l = QL;
    while (h < hEnd4) {
      const h0 = load<i32>(h), h1 = load<i32>(h, 4), h2 = load<i32>(h, 8), h3 = load<i32>(h, 12);
      const l0 = load<i32>(l), l1 = load<i32>(l, 4), l2 = load<i32>(l, 8), l3 = load<i32>(l, 12);
        const e00 = min<i32>(<i32>(<u32>(h0 * pv0 + rE) >>> es), 65535);
        const b00 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0) + rD)) >>> df) + e00);
        store<u16>(eb0, <u16>b00);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0) + rshrS(l0 * b00, ah, ar, ak)));
        const e01 = min<i32>(<i32>(<u32>(h1 * pv0 + rE) >>> es), 65535);
        const b01 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0, 2) + rD)) >>> df) + e01);
        store<u16>(eb0, <u16>b01, 2);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0, 2) + rshrS(l1 * b01, ah, ar, ak)), 2);
        const e02 = min<i32>(<i32>(<u32>(h2 * pv0 + rE) >>> es), 65535);
        const b02 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0, 4) + rD)) >>> df) + e02);
        store<u16>(eb0, <u16>b02, 4);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0, 4) + rshrS(l2 * b02, ah, ar, ak)), 4);
        const e03 = min<i32>(<i32>(<u32>(h3 * pv0 + rE) >>> es), 65535);
        const b03 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0, 6) + rD)) >>> df) + e03);
        store<u16>(eb0, <u16>b03, 6);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0, 6) + rshrS(l3 * b03, ah, ar, ak)), 6);
        const e10 = min<i32>(<i32>(<u32>(h0 * pv1 + rE) >>> es), 65535);
        const b10 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb1) + rD)) >>> df) + e10);
        store<u16>(eb1, <u16>b10);
        store<i16>(ac1, <i16>sat16(<i32>load<i16>(ac1) + rshrS(l0 * b10, ah, ar, ak)));
        const e11 = min<i32>(<i32>(<u32>(h1 * pv1 + rE) >>> es), 65535);
        const b11 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb1, 2) + rD)) >>> df) + e11);
        store<u16>(eb1, <u16>b11, 2);
        store<i16>(ac1, <i16>sat16(<i32>load<i16>(ac1, 2) + rshrS(l1 * b11, ah, ar, ak)), 2);
        const e12 = min<i32>(<i32>(<u32>(h2 * pv1 + rE) >>> es), 65535);
        const b12 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb1, 4) + rD)) >>> df) + e12);
        store<u16>(eb1, <u16>b12, 4);
        store<i16>(ac1, <i16>sat16(<i32>load<i16>(ac1, 4) + rshrS(l2 * b12, ah, ar, ak)), 4);
        const e13 = min<i32>(<i32>(<u32>(h3 * pv1 + rE) >>> es), 65535);
        const b13 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb1, 6) + rD)) >>> df) + e13);
        store<u16>(eb1, <u16>b13, 6);
        store<i16>(ac1, <i16>sat16(<i32>load<i16>(ac1, 6) + rshrS(l3 * b13, ah, ar, ak)), 6);
        h += 16;
      l += 16;
      eb0 += 8;
      ac0 += 8;
      eb1 += 8;
      ac1 += 8;
    }
    for (; h < hEnd; h += 4, l += 4, eb0 += 2, ac0 += 2, eb1 += 2, ac1 += 2) {
      const h0 = load<i32>(h), l0 = load<i32>(l);
        const e00 = min<i32>(<i32>(<u32>(h0 * pv0 + rE) >>> es), 65535);
        const b00 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0) + rD)) >>> df) + e00);
        store<u16>(eb0, <u16>b00);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0) + rshrS(l0 * b00, ah, ar, ak)));
        const e10 = min<i32>(<i32>(<u32>(h0 * pv1 + rE) >>> es), 65535);
        const b10 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb1) + rD)) >>> df) + e10);
        store<u16>(eb1, <u16>b10);
        store<i16>(ac1, <i16>sat16(<i32>load<i16>(ac1) + rshrS(l0 * b10, ah, ar, ak)));
    }
    eb0 = eb1;
    ac0 = ac1;
  }
  if (pre < preEnd) {
    const pv0 = load<i32>(pre);
    for (let h = H, l = QL; h < hEnd; h += 4, l += 4, eb0 += 2, ac0 += 2) {
      const h0 = load<i32>(h), l0 = load<i32>(l);
        const e00 = min<i32>(<i32>(<u32>(h0 * pv0 + rE) >>> es), 65535);
        const b00 = satU16(<i32>((<u32>(k * <i32>load<u16>(eb0) + rD)) >>> df) + e00);
        store<u16>(eb0, <u16>b00);
        store<i16>(ac0, <i16>sat16(<i32>load<i16>(ac0) + rshrS(l0 * b00, ah, ar, ak)));
    }
  }
}

/** Online eligibility and/or per-step updates, one synapse at a time. */
function learnOther(): void {
  const n = nRec, H = pH, QL = pQl, pre = pPre;
  const neuBytes = <usize>n << 2;
  const preEnd = pre + (<usize>nPre << 2);
  const ah = accH, ar = accR, ak = accK, step = (mode & FX_STEP) != 0;
  let tgt = step ? pW : pAcc; // what the increment goes to: w (subtracted) or acc (added)
  if ((mode & FX_ONLINE) == 0) {
    const es = eligShift, k = kappaInt, df = decayFrac;
    let eb = pEb;
    for (let p = pre; p < preEnd; p += 4) {
      const pv = load<u32>(p);
      for (let o: usize = 0; o < neuBytes; o += 4, eb += 2, tgt += 2) {
        const e = min<u32>(rshrU(<u32>load<i32>(H + o) * pv, es), 65535);
        const b = min<u32>(rshrU(k * <u32>load<u16>(eb), df) + e, 65535);
        store<u16>(eb, <u16>b);
        const inc = rshrS(load<i32>(QL + o) * <i32>b, ah, ar, ak);
        store<i16>(tgt, <i16>sat16(step ? <i32>load<i16>(tgt) - inc : <i32>load<i16>(tgt) + inc));
      }
    }
  } else {
    const G = pG;
    for (let o: usize = 0; o < neuBytes; o += 4) store<i32>(G + o, sat16(rshrS(load<i32>(QL + o) * load<i32>(H + o), gainH, gainR, gainK)));
    for (let p = pre; p < preEnd; p += 4) {
      const pv = <i32>load<u32>(p);
      for (let o: usize = 0; o < neuBytes; o += 4, tgt += 2) {
        const inc = rshrS(load<i32>(G + o) * pv, ah, ar, ak);
        store<i16>(tgt, <i16>sat16(step ? <i32>load<i16>(tgt) - inc : <i32>load<i16>(tgt) + inc));
      }
    }
  }
}

/** COMMIT (update `trial`): w = satS16(w - rshr(acc c, cShift)), acc = 0. */
export function fxCoreCommit(c: i32, cShift: u32): void {
  if ((mode & FX_STEP) != 0) return;
  const end = pW + <usize>nPre * <usize>nRec * 2;
  const h = splitH(cShift), r = splitR(cShift), k = splitK(cShift);
  for (let w = pW, a = pAcc; w < end; w += 2, a += 2) {
    store<i16>(w, <i16>sat16(<i32>load<i16>(w) - rshrS(<i32>load<i16>(a) * c, h, r, k)));
    store<i16>(a, 0);
  }
}

export function fxCoreNIn(): i32 { return nIn; }
export function fxCoreNRec(): i32 { return nRec; }
export function fxCoreMode(): i32 { return mode; }
