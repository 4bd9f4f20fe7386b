// From a hil-case/1 to the core's integers and back: picks the fixed-point formats for a case
// (the widths come from the config; fractional splits and shifts are calibrated here), builds
// the testbench stimulus, and de-quantises the accumulators into MODEL.md gradients.
//
// What the core computes is MODEL.md's LIF e-prop with these mappings (fpga/README.md):
//   inputScale oneMinusAlpha -> the core's weight is zeta*w and its trace is xbar/zeta;
//   readoutScale oneMinusKappa -> ebar is scaled by s on the way out; the readout is on the host.
import { InputError } from "../host/input/errors.ts";
import { decays } from "../host/model/decay.ts";
import type { Case, Grads, Matrix } from "../host/model/types.ts";
import { type Derived, derive, type HdlConfig, DEFAULTS, shiftLimits } from "./config.ts";
import { bitLen, satS } from "./fixed.ts";
import { GoldenCore, type Stimulus } from "./golden.ts";
import { readout, type ReadoutResult } from "./readout.ts";

/** Refuses what the core does not implement, naming the case field. */
export function checkSupported(c: Case): void {
  const m = c.model;
  if (m.neuron !== "lif" || m.beta.some((b) => b !== 0)) throw new InputError("model.neuron", "the FPGA core implements LIF only (beta = 0)");
  if (m.refractory !== 0) throw new InputError("model.refractory", "the FPGA core has no refractory period; expected 0");
  if (m.rateReg) throw new InputError("model.rateReg", "the FPGA core has no rate regulariser; expected null");
  c.inputs.forEach((row, t) =>
    row.forEach((x, i) => {
      if (x !== 0 && x !== 1) throw new InputError(`inputs[${t}][${i}]`, `the FPGA core takes spikes; expected 0 or 1, got ${x}`);
    }),
  );
}

export interface Quantised {
  d: Derived;
  stim: Stimulus;
  ro: ReadoutResult;
  /** Real value of one accumulator LSB, as a gradient of the case's weights. */
  gradPerLsb: number;
  /** Golden model's forward spikes (the stimulus's L was computed from them). */
  zGolden: Matrix;
}

function maxAbs(xs: number[]): number {
  return xs.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
}

/** Integer bits needed for magnitudes up to `x` (0 for x < 1). */
function intBits(x: number): number {
  return x < 1 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/** Quantises a case for a core sized from the case (recurrent always on, so wRec gets a gradient). */
export function quantiseCase(c: Case, base: Partial<HdlConfig> = {}): Quantised {
  checkSupported(c);
  const m = c.model;
  const dec = decays(m);
  if (base.update === "step") throw new InputError("update", "'step' changes the weights within the trial; fpga-sim computes gradients at fixed weights, use 'trial'");
  const cfg: HdlConfig = { ...DEFAULTS, ...base, nIn: m.nIn, nRec: m.nRec, recurrent: true, alpha: dec.alpha, kappa: dec.kappa, vTh: m.vTh };
  delete cfg.weights;
  // the shifts are calibrated below; start from 0 so that narrow widths validate
  cfg.eligShift = 0;
  cfg.gainShift = 0;
  cfg.accShift = 0;
  cfg.commitShift = Math.min(cfg.commitShift, cfg.accBits);
  // weights: the core's weight is zeta*w; use the full signed range
  const wAll = [...c.params.wIn.flat(), ...c.params.wRec.flatMap((r, j) => r.filter((_, i) => i !== j))].map((w) => w * dec.zeta);
  cfg.weightFrac = Math.max(0, cfg.weightBits - 1 - intBits(maxAbs(wAll) * (1 + 2 ** -cfg.weightBits)));
  // membranes: 4*vTh must fit; shrink weightFrac if the membrane width is the limit
  while (cfg.weightFrac > 0 && 4 * Math.round(m.vTh * 2 ** cfg.weightFrac) > 2 ** (cfg.membraneBits - 1) - 1) cfg.weightFrac--;
  while (cfg.weightFrac > 0 && bitLen(Math.round(m.vTh * 2 ** cfg.weightFrac)) > 20) cfg.weightFrac--;
  // traces: up to 1/(1 - alpha) with a spike every step
  cfg.traceFrac = Math.max(0, cfg.traceBits - intBits(1 / (1 - dec.alpha) + 1));
  const qw = (w: number) => satS(Math.floor(w * dec.zeta * 2 ** cfg.weightFrac + 0.5), cfg.weightBits);
  const nPre = m.nIn + m.nRec;
  const w: number[] = [];
  for (let j = 0; j < m.nRec; j++) for (let i = 0; i < nPre; i++) w.push(i < m.nIn ? qw(c.params.wIn[j]![i]!) : i - m.nIn === j ? 0 : qw(c.params.wRec[j]![i - m.nIn]!));
  const x = c.inputs.map((row) => row.map((v) => (v ? 1 : 0)));

  // 1. forward (independent of the learning formats) -> spikes -> host readout -> L
  const widths = { eligBits: cfg.eligBits, accBits: cfg.accBits, learnBits: cfg.learnBits };
  const probe = (over: Partial<HdlConfig>) => new GoldenCore(derive({ ...cfg, ...over }));
  const fwd = probe({});
  for (let k = 0; k < w.length; k++) fwd.w[k] = w[k]!;
  const zGolden: Matrix = [];
  for (const row of x) {
    row.forEach((v, i) => (fwd.xs[i] = v));
    fwd.step();
    zGolden.push([...fwd.zs]);
  }
  const ro = readout(c, zGolden);
  const lMax = maxAbs(ro.L.flat());
  const lFrac = lMax > 0 ? widths.learnBits - 1 - (Math.floor(Math.log2(lMax * (1 + 2 ** -widths.learnBits))) + 1) : 0;
  const l = ro.L.map((row) => row.map((v) => satS(Math.floor(v * 2 ** lFrac + 0.5), widths.learnBits)));

  // 2. calibrate the shifts: run wide, record the peaks, then keep the top `width` bits (+1 spare)
  const peaks = (over: Partial<HdlConfig>, which: "e" | "a" | "g") => {
    const g = probe(over);
    for (let k = 0; k < w.length; k++) g.w[k] = w[k]!;
    let peak = 0;
    x.forEach((row, t) => {
      row.forEach((v, i) => (g.xs[i] = v));
      g.step();
      l[t]!.forEach((v, j) => (g.l[j] = v));
      if (which === "g") for (let j = 0; j < m.nRec; j++) peak = Math.max(peak, Math.abs(l[t]![j]! * g.psi[j]!));
      else {
        g.learn();
        peak = Math.max(peak, maxAbs(which === "e" ? g.e : g.a));
      }
    });
    return peak;
  };
  const shiftFor = (peak: number, bits: number, signed: boolean) => Math.max(0, bitLen(peak) + 1 - (signed ? bits - 1 : bits));
  if (cfg.mode === "filtered") {
    cfg.eligShift = shiftFor(peaks({ eligShift: 0, eligBits: 48, accShift: 0, accBits: 52 }, "e"), widths.eligBits, false);
    cfg.accShift = shiftFor(peaks({ accShift: 0, accBits: 52 }, "a"), widths.accBits, true);
  } else {
    cfg.gainShift = shiftFor(peaks({}, "g"), widths.learnBits, true);
    cfg.accShift = shiftFor(peaks({ accShift: 0, accBits: 52 }, "a"), widths.accBits, true);
  }
  // a shift beyond the product it shifts would only mean saturation: clamp to the limit
  for (const [field, max] of shiftLimits(cfg, bitLen(Math.round(m.vTh * 2 ** cfg.weightFrac)))) {
    (cfg as unknown as Record<string, number>)[field] = Math.min((cfg as unknown as Record<string, number>)[field]!, max);
  }
  const d = derive(cfg);
  // de-quantisation: psi = gamma/vTh^2 * h * 2^-weightFrac, pre = zeta * pre_int * 2^-traceFrac, L = L_q * 2^-lFrac
  const psiScale = (m.gamma / (m.vTh * m.vTh)) * 2 ** -cfg.weightFrac;
  const preScale = dec.zeta * 2 ** -cfg.traceFrac;
  const shifts = cfg.mode === "filtered" ? cfg.eligShift + cfg.accShift : cfg.gainShift + cfg.accShift;
  // online mode sums L*e, not L*ebar: scale by the kappa filter's DC gain 1/(1 - kappa) so the
  // approximation comes back in gradient units (exact direction only when kappa = 0)
  const filterGain = cfg.mode === "filtered" ? 1 : 1 / (1 - dec.kappa);
  const gradPerLsb = psiScale * preScale * dec.s * filterGain * 2 ** (shifts - lFrac);
  return { d, stim: { w, x, l, commit: false }, ro, gradPerLsb, zGolden };
}

/** Accumulators [nSyn] -> MODEL.md gradients (wOut, bOut from the host readout). */
export function dequantise(q: Quantised, acc: number[]): Grads {
  const { nIn, nRec } = q.d.cfg;
  const nPre = q.d.nPre;
  const wIn = Array.from({ length: nRec }, (_, j) => Array.from({ length: nIn }, (_, i) => acc[j * nPre + i]! * q.gradPerLsb));
  const wRec = Array.from({ length: nRec }, (_, j) => Array.from({ length: nRec }, (_, i) => (i === j ? 0 : acc[j * nPre + nIn + i]! * q.gradPerLsb)));
  return { wIn, wRec, wOut: q.ro.gWOut, bOut: q.ro.gBOut };
}
