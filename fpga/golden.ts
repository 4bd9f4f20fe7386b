// Bit-exact TypeScript model of the generated core (fpga/generate/core.ts): the same integer
// operations in the same order, from the same Derived constants. Not cycle-accurate: the
// testbench compares state after each bus command, which is all the host can observe.
// The MCUs without an FPU run the same arithmetic (device/kernels/fixed16.ts, AssemblyScript,
// i32 operations): tests/fixed16-golden.test.ts holds the two to bit-exactness on the same config.
import type { Derived } from "./config.ts";
import { rshr, satS, satU } from "./fixed.ts";

export class GoldenCore {
  readonly w: number[];
  readonly e: number[]; // ebar (filtered mode)
  readonly a: number[]; // accumulator
  readonly v: number[];
  readonly psi: number[];
  readonly l: number[];
  readonly pre: number[]; // xbar (i < nIn) then zbar
  readonly xs: number[]; // input spikes of the current step
  readonly zs: number[]; // z^t
  readonly zp: number[]; // z^{t-1}

  constructor(readonly d: Derived) {
    const { nSyn, nPre } = d;
    const n = d.cfg.nRec;
    this.w = new Array<number>(nSyn).fill(0);
    this.e = new Array<number>(nSyn).fill(0);
    this.a = new Array<number>(nSyn).fill(0);
    this.v = new Array<number>(n).fill(0);
    this.psi = new Array<number>(n).fill(0);
    this.l = new Array<number>(n).fill(0);
    this.pre = new Array<number>(nPre).fill(0);
    this.xs = new Array<number>(d.cfg.nIn).fill(0);
    this.zs = new Array<number>(n).fill(0);
    this.zp = new Array<number>(n).fill(0);
  }

  /** CLEAR: a new trial (membranes, spikes, traces, ebar, acc to 0; weights kept). */
  clear(): void {
    for (const arr of [this.e, this.a, this.v, this.psi, this.pre, this.zs, this.zp]) arr.fill(0);
  }

  private spikeOf(i: number): number {
    const nIn = this.d.cfg.nIn;
    return i < nIn ? this.xs[i]! : this.zp[i - nIn]!;
  }

  /** STEP: traces, then the forward pass of every neuron (MODEL.md LIF, subtract reset). */
  step(): void {
    const { cfg: c, nPre, alphaInt, vThInt } = this.d;
    for (let j = 0; j < c.nRec; j++) this.zp[j] = this.zs[j]!;
    for (let i = 0; i < nPre; i++) {
      const decayed = rshr(this.pre[i]! * alphaInt, c.decayFrac);
      this.pre[i] = satU(decayed + this.spikeOf(i) * 2 ** c.traceFrac, c.traceBits);
    }
    for (let j = 0; j < c.nRec; j++) {
      let sum = 0;
      for (let i = 0; i < nPre; i++) {
        if (this.spikeOf(i) && !(i >= c.nIn && i - c.nIn === j)) sum += this.w[j * nPre + i]!;
      }
      const leak = rshr(this.v[j]! * alphaInt, c.decayFrac);
      const vn = satS(leak + sum - (this.zp[j] ? vThInt : 0), c.membraneBits);
      this.v[j] = vn;
      this.zs[j] = vn > vThInt ? 1 : 0;
      const ad = Math.abs(vn - vThInt);
      this.psi[j] = ad < vThInt ? vThInt - ad : 0;
    }
  }

  /** LEARN: eligibility and accumulator update with the learning signals in `l`. */
  learn(): void {
    const { cfg: c, nPre, kappaInt } = this.d;
    for (let j = 0; j < c.nRec; j++) {
      const psi = this.psi[j]!;
      const L = this.l[j]!;
      const g = satS(rshr(L * psi, c.gainShift), c.learnBits);
      for (let i = 0; i < nPre; i++) {
        const s = j * nPre + i;
        const diag = i >= c.nIn && i - c.nIn === j;
        if (c.mode === "filtered") {
          const e = diag ? 0 : satU(rshr(psi * this.pre[i]!, c.eligShift), c.eligBits);
          const eb = satU(rshr(kappaInt * this.e[s]!, c.decayFrac) + e, c.eligBits);
          this.e[s] = eb;
          if (!diag) this.apply(s, rshr(L * eb, c.accShift));
        } else if (!diag) {
          this.apply(s, rshr(g * this.pre[i]!, c.accShift));
        }
      }
    }
  }

  /** update `trial`: acc += inc; update `step`: w -= inc (both saturating). */
  private apply(s: number, inc: number): void {
    const c = this.d.cfg;
    if (c.update === "trial") this.a[s] = satS(this.a[s]! + inc, c.accBits);
    else this.w[s] = satS(this.w[s]! - inc, c.weightBits);
  }

  /** COMMIT: w -= rshr(acc, commitShift) with saturation; acc = 0 (no-op with update `step`). */
  commit(): void {
    const c = this.d.cfg;
    if (c.update === "step") return;
    for (let s = 0; s < this.d.nSyn; s++) {
      this.w[s] = satS(this.w[s]! - rshr(this.a[s]!, c.commitShift), c.weightBits);
      this.a[s] = 0;
    }
  }
}

/** What the testbench is driven with: integer weights, spikes and learning signals. */
export interface Stimulus {
  w: number[]; // [nSyn] integers
  x: number[][]; // [T][nIn] 0/1
  l: number[][] | null; // [T][nRec] integers, or null for a forward-only run
  commit: boolean;
  /** false: the testbench skips loading w over the bus (the $readmemh init file holds them). */
  loadWeights?: boolean;
}

/** What the testbench reports (and the golden model predicts). */
export interface SimOutput {
  z: number[][]; // [T][nRec]
  v: number[][]; // [T][nRec]
  a: number[]; // [nSyn] before commit
  e: number[]; // [nSyn] (filtered mode; empty in online mode)
  w: number[]; // [nSyn] at the end (after commit if requested)
}

export function runGolden(d: Derived, s: Stimulus): SimOutput {
  const g = new GoldenCore(d);
  for (let k = 0; k < d.nSyn; k++) g.w[k] = s.w[k]!;
  g.clear();
  const z: number[][] = [];
  const v: number[][] = [];
  for (let t = 0; t < s.x.length; t++) {
    for (let i = 0; i < d.cfg.nIn; i++) g.xs[i] = s.x[t]![i]!;
    g.step();
    z.push([...g.zs]);
    v.push([...g.v]);
    if (s.l) {
      for (let j = 0; j < d.cfg.nRec; j++) g.l[j] = s.l[t]![j]!;
      g.learn();
    }
  }
  const a = [...g.a];
  const e = d.cfg.mode === "filtered" ? [...g.e] : [];
  if (s.commit) g.commit();
  return { z, v, a, e, w: [...g.w] };
}
