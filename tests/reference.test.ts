// The float64 reference: a trajectory worked out by hand from MODEL.md, e-prop equals BPTT where
// MODEL.md says it must, BPTT agrees with an independent finite-difference check, and e-prop's
// approximation with recurrence stays above measured cosine floors.
import { describe, expect, it } from "vitest";
import { parseCase } from "../host/case/parse.ts";
import { randomCase, type RandomCaseOptions } from "../host/case/random.ts";
import { bpttGrad } from "../host/reference/bptt.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import { fdCheck } from "../host/reference/fdcheck.ts";
import { simulate } from "../host/reference/simulate.ts";
import { cosine, flat, GRAD_KEYS, maxRelErr } from "./helpers/compare.ts";

// Three steps of MODEL.md worked out on paper (no code of the reference was used to get them).
// Decays are exactly 1/2: tau = 1/ln 2 at dt = 1 gives alpha = rho = kappa = exp(-ln 2) = 0.5.
// Neuron 0 is LIF (beta 0), neuron 1 ALIF (beta 0.2); vTh = 1, gamma = 0.3, mse.
//   wIn = [[1.5], [0.8]], wRec = [[0, 0.4], [0.7, 0]], wOut = [[1, -1]], bOut = [0.1]
//   x = 1, 0, 1;  target = 0.5, 0, 1
// t = 1 (all state 0 before):
//   v0 = 1.5;  a0 = 0, A0 = 1;  u0 = 0.5 > 0 -> z0 = 1;  psi0 = 0.3 * (1 - 0.5) = 0.15
//   v1 = 0.8;  a1 = 0, A1 = 1;  u1 = -0.2   -> z1 = 0;  psi1 = 0.3 * (1 - 0.2) = 0.24
//   y = 0 + (1*1 - 1*0 + 0.1) = 1.1;  err = 0.6;  E += 0.18
// t = 2 (x = 0, z^1 = (1, 0)):
//   v0 = 0.5*1.5 + 0.4*0 - 1*1 = -0.25;  a0 = 0 + 1 = 1 (beta 0: A0 = 1);  u0 = -1.25 -> z0 = 0, psi0 = 0
//   v1 = 0.5*0.8 + 0.7*1 - 0 = 1.1;      a1 = 0, A1 = 1;  u1 = 0.1 -> z1 = 1;  psi1 = 0.3 * 0.9 = 0.27
//   y = 0.5*1.1 + (0 - 1 + 0.1) = -0.35;  err = -0.35;  E += 0.06125
// t = 3 (x = 1, z^2 = (0, 1)):
//   v0 = 0.5*(-0.25) + 1.5 + 0.4*1 - 0 = 1.775;  a0 = 0.5;  u0 = 0.775 -> z0 = 1;  psi0 = 0.3 * 0.225 = 0.0675
//   v1 = 0.5*1.1 + 0.8 - 1*1 = 0.35;  a1 = 0 + 1 = 1, A1 = 1 + 0.2 = 1.2;  u1 = -0.85 -> z1 = 0;  psi1 = 0.3 * 0.15 = 0.045
//   y = 0.5*(-0.35) + (1 + 0.1) = 0.925;  err = -0.075;  E += 0.0028125
// E = 0.18 + 0.06125 + 0.0028125 = 0.2440625
// Readout (exact in both rules): zk0 = 1, 0.5, 1.25; zk1 = 0, 1, 0.5; ok = 1, 1.5, 1.75
//   dE/dwOut = (0.6 - 0.175 - 0.09375, -0.35 - 0.0375) = (0.33125, -0.3875);  dE/dbOut = 0.6 - 0.525 - 0.13125 = -0.05625
// BPTT adjoints (dy^t = err^t + kappa dy^{t+1}; dz_j = wOut_j dy + sum_l wRec[l][j] dv_l^{t+1} + da_j^{t+1};
// dv = psi dz + alpha dv^{t+1}; da = -beta psi dz + rho da^{t+1}):
//   dy = 0.40625, -0.3875, -0.075
//   t=3: dz0 = -0.075 -> dv0 = -0.0050625;  dz1 = 0.075 -> dv1 = 0.003375, da1 = -0.2*0.045*0.075 = -0.000675
//   t=2: dz0 = -0.3875 + 0.7*0.003375 = -0.3851375 -> dv0 = 0 + 0.5*(-0.0050625) = -0.00253125
//        dz1 = 0.3875 + 0.4*(-0.0050625) - 0.000675 = 0.3848 -> dv1 = 0.27*0.3848 + 0.0016875 = 0.1055835,
//        da1 = -0.2*0.27*0.3848 - 0.0003375 = -0.0211167
//   t=1: dz0 = 0.40625 + 0.7*0.1055835 = 0.48015845 -> dv0 = 0.15*0.48015845 - 0.001265625 = 0.0707581425
//        dz1 = -0.40625 + 0.4*(-0.00253125) - 0.0211167 = -0.4283792 -> dv1 = 0.24*(-0.4283792) + 0.05279175 = -0.050019258
//   dE/dwIn = (dv0^1 + dv0^3, dv1^1 + dv1^3) = (0.0656956425, -0.046644258)
//   dE/dwRec[1][0] = dv1^2 * z0^1 = 0.1055835;  dE/dwRec[0][1] = dv0^3 * z1^2 = -0.0050625
// e-prop (B = wOut^T, so L = (err, -err)):
//   wIn[0][0]: xbar = 1, 0.5, 1.25; e = 0.15, 0, 0.0675*1.25 = 0.084375; ebar = 0.15, 0.075, 0.121875
//              grad = 0.6*0.15 - 0.35*0.075 - 0.075*0.121875 = 0.054609375
//   wRec[1][0]: pre = zbar0^{t-1} = 0, 1, 0.5; e = 0, 0.27*1 = 0.27 (epsA -> 0.27), 0.045*(0.5 - 0.2*0.27) = 0.02007
//              ebar = 0, 0.27, 0.15507; grad = 0.35*0.27 + 0.075*0.15507 = 0.10613025
describe("a trajectory worked out by hand from MODEL.md", () => {
  const tau = 1 / Math.LN2;
  const c = parseCase({
    format: "hil-case/1", name: "by-hand",
    model: { neuron: "alif", nIn: 1, nRec: 2, nOut: 1, dt: 1, tauMem: tau, tauOut: tau, tauAdapt: tau, beta: [0, 0.2], vTh: 1, gamma: 0.3, loss: "mse" },
    params: { wIn: [[1.5], [0.8]], wRec: [[0, 0.4], [0.7, 0]], wOut: [[1, -1]], bOut: [0.1] },
    inputs: [[1], [0], [1]],
    targets: [[0.5], [0], [1]],
  });
  const close = (got: number[][] | number[], want: number[][] | number[]) => {
    const g = got.flat();
    const w = want.flat();
    expect(g.length).toBe(w.length);
    g.forEach((x, i) => expect(x, `element ${i}: ${x} vs ${w[i]}`).toBeCloseTo(w[i]!, 12));
  };

  it("v, a, A, z, psi, y and the loss", () => {
    const tr = simulate(c);
    close(tr.v, [[1.5, 0.8], [-0.25, 1.1], [1.775, 0.35]]);
    close(tr.a, [[0, 0], [1, 0], [0.5, 1]]);
    // A = vTh + beta a, recovered from u = v - A
    close(tr.v.map((row, t) => row.map((v, j) => v - tr.u[t]![j]!)), [[1, 1], [1, 1], [1, 1.2]]);
    expect(tr.z).toEqual([[1, 0], [0, 1], [1, 0]]);
    close(tr.psi, [[0.15, 0.24], [0, 0.27], [0.0675, 0.045]]);
    close(tr.y, [[1.1], [-0.35], [0.925]]);
    expect(tr.loss).toBeCloseTo(0.2440625, 12);
  });

  it("BPTT gradients", () => {
    const g = bpttGrad(c).grads;
    close(g.wIn, [[0.0656956425], [-0.046644258]]);
    close(g.wRec, [[0, -0.0050625], [0.1055835, 0]]);
    close(g.wOut, [[0.33125, -0.3875]]);
    close(g.bOut, [-0.05625]);
  });

  it("e-prop gradients (online traces)", () => {
    const e = epropGrad(c);
    expect(e.loss).toBeCloseTo(0.2440625, 12);
    expect(e.grads.wIn[0]![0]).toBeCloseTo(0.054609375, 12);
    expect(e.grads.wRec[1]![0]).toBeCloseTo(0.10613025, 12);
    close(e.grads.wOut, [[0.33125, -0.3875]]);
    close(e.grads.bOut, [-0.05625]);
  });
});

const OPTION_SETS: Array<[string, RandomCaseOptions]> = [
  ["defaults", {}],
  ["refractory", { refractory: 3 }],
  ["scaled", { inputScale: "oneMinusAlpha", readoutScale: "oneMinusKappa" }],
  ["rateReg+mean", { rateReg: { cReg: 0.5, fTargetHz: 10 }, lossReduction: "mean" }],
  ["no bias", { trainBias: false }],
];

describe("e-prop equals BPTT with wRec = 0 and symmetric feedback", () => {
  for (const neuron of ["lif", "alif"] as const) {
    for (const loss of ["mse", "ce"] as const) {
      for (const [label, extra] of OPTION_SETS) {
        it(`${neuron} ${loss} ${label}`, () => {
          for (const seed of [1, 2, 3]) {
            const c = randomCase({ neuron, loss, seed, T: 120, ...extra });
            const bptt = bpttGrad(c);
            const eprop = epropGrad(c);
            expect(Math.abs(eprop.loss - bptt.loss)).toBeLessThanOrEqual(1e-10 * Math.abs(bptt.loss));
            for (const key of GRAD_KEYS) {
              const ref = flat(bptt.grads, key);
              expect(maxRelErr(flat(eprop.grads, key), ref), `${key} seed ${seed}`).toBeLessThanOrEqual(1e-10);
              if (key !== "wRec" && !(key === "bOut" && extra.trainBias === false)) {
                expect(ref.some((g) => g !== 0), `${key} has a non-zero gradient`).toBe(true);
              }
            }
          }
        });
      }
    }
  }

  it("the cases spike and keep the margin", () => {
    const c = randomCase({ neuron: "alif", seed: 9, T: 150 });
    const tr = simulate(c);
    const rate = tr.z.flat().reduce((a, b) => a + b, 0) / (c.model.nRec * 150);
    expect(rate).toBeGreaterThan(0.01);
    expect(Math.min(...tr.u.flat().map(Math.abs))).toBeGreaterThan(1e-4);
  });
});

describe("BPTT agrees with finite differences (smooth variant, same code path)", () => {
  for (const neuron of ["lif", "alif"] as const) {
    for (const loss of ["mse", "ce"] as const) {
      it(`${neuron} ${loss}, recurrent, refractory, rate regulariser`, () => {
        const c = randomCase({ neuron, loss, seed: 11, T: 60, nIn: 4, nRec: 6, recurrent: true, refractory: 2, rateReg: { cReg: 1, fTargetHz: 20 } });
        const probes: Array<["wIn" | "wRec" | "wOut" | "bOut", number, number]> = [
          ["wIn", 0, 1], ["wIn", 3, 2], ["wIn", 5, 0], ["wRec", 1, 0], ["wRec", 4, 5], ["wRec", 2, 3], ["wOut", 1, 4], ["bOut", 0, 2],
        ];
        for (const r of fdCheck(c, probes)) {
          expect(Math.abs(r.bptt - r.fd), `${r.weight}[${r.index}] bptt ${r.bptt} fd ${r.fd}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(r.fd)));
        }
      });
    }
  }

  it("the diagonal of wRec has zero gradient", () => {
    const c = randomCase({ neuron: "alif", seed: 4, recurrent: true });
    const g = bpttGrad(c).grads.wRec;
    g.forEach((row, j) => expect(row[j]).toBe(0));
  });
});

// Floors for e-prop's cosine to BPTT with wRec != 0 (T = 150, 8 inputs, 12 neurons, random
// margin cases). Measured over seeds 1..200 (min / 5th percentile / median):
//   lif  mse  wIn 0.726 / 0.857 / 0.958   wRec 0.706 / 0.864 / 0.957
//   lif  ce   wIn 0.552 / 0.811 / 0.944   wRec 0.604 / 0.802 / 0.946
//   alif mse  wIn 0.989 / 0.992 / 0.998   wRec 0.985 / 0.992 / 0.998
//   alif ce   wIn 0.987 / 0.994 / 0.998   wRec 0.935 / 0.974 / 0.997
// Each seed must clear the floor set below the 200-seed minimum, and the median over the seeds
// tested must clear one set below the 200-seed 5th percentile.
const COSINE_FLOORS = {
  "lif mse": { each: { wIn: 0.65, wRec: 0.65 }, median: { wIn: 0.85, wRec: 0.85 } },
  "lif ce": { each: { wIn: 0.5, wRec: 0.55 }, median: { wIn: 0.8, wRec: 0.8 } },
  "alif mse": { each: { wIn: 0.97, wRec: 0.97 }, median: { wIn: 0.98, wRec: 0.98 } },
  "alif ce": { each: { wIn: 0.97, wRec: 0.9 }, median: { wIn: 0.98, wRec: 0.96 } },
} as const;
const COSINE_SEEDS = [21, 1, 2, 3, 4, 5, 6, 7];

describe("e-prop with wRec != 0 approximates BPTT", () => {
  for (const neuron of ["lif", "alif"] as const) {
    for (const loss of ["mse", "ce"] as const) {
      it(`${neuron} ${loss}: readout exact, wIn and wRec cosines above their floors`, () => {
        const floors = COSINE_FLOORS[`${neuron} ${loss}`];
        const cos: Record<"wIn" | "wRec", number[]> = { wIn: [], wRec: [] };
        for (const seed of COSINE_SEEDS) {
          const c = randomCase({ neuron, loss, seed, T: 150, recurrent: true });
          const bptt = bpttGrad(c);
          const eprop = epropGrad(c);
          for (const key of ["wOut", "bOut"] as const) {
            expect(maxRelErr(flat(eprop.grads, key), flat(bptt.grads, key))).toBeLessThanOrEqual(1e-10);
          }
          for (const key of ["wIn", "wRec"] as const) {
            const e = flat(eprop.grads, key);
            const b = flat(bptt.grads, key);
            // a zero gradient would make the cosine NaN or meaningless: both must be non-zero (ce
            // gradients here are ~1e-4 in norm, mse ~1e-1)
            expect(Math.hypot(...b), `BPTT ${key} seed ${seed}`).toBeGreaterThan(1e-6);
            expect(Math.hypot(...e), `e-prop ${key} seed ${seed}`).toBeGreaterThan(1e-6);
            const c0 = cosine(e, b);
            expect(c0, `${key} cosine, seed ${seed}`).toBeGreaterThanOrEqual(floors.each[key]);
            cos[key].push(c0);
          }
        }
        const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
        console.log(`e-prop vs BPTT cosine (${neuron}, ${loss}, recurrent), median of ${COSINE_SEEDS.length} seeds: wIn ${median(cos.wIn).toFixed(4)}, wRec ${median(cos.wRec).toFixed(4)}`);
        expect(median(cos.wIn)).toBeGreaterThanOrEqual(floors.median.wIn);
        expect(median(cos.wRec)).toBeGreaterThanOrEqual(floors.median.wRec);
      });
    }
  }
});
