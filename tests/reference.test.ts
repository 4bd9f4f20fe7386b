// The float64 reference: e-prop equals BPTT where MODEL.md says it must, BPTT agrees with an
// independent finite-difference check, and e-prop's approximation with recurrence is reported.
import { describe, expect, it } from "vitest";
import { randomCase, type RandomCaseOptions } from "../host/case/random.ts";
import { bpttGrad } from "../host/reference/bptt.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import { fdCheck } from "../host/reference/fdcheck.ts";
import { simulate } from "../host/reference/simulate.ts";
import { cosine, flat, GRAD_KEYS, maxRelErr } from "./helpers/compare.ts";

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

describe("e-prop with wRec != 0 approximates BPTT", () => {
  for (const neuron of ["lif", "alif"] as const) {
    for (const loss of ["mse", "ce"] as const) {
      it(`${neuron} ${loss}: readout exact, cosine reported`, () => {
        const c = randomCase({ neuron, loss, seed: 21, T: 150, recurrent: true });
        const bptt = bpttGrad(c);
        const eprop = epropGrad(c);
        for (const key of ["wOut", "bOut"] as const) {
          expect(maxRelErr(flat(eprop.grads, key), flat(bptt.grads, key))).toBeLessThanOrEqual(1e-10);
        }
        const cosIn = cosine(flat(eprop.grads, "wIn"), flat(bptt.grads, "wIn"));
        const cosRec = cosine(flat(eprop.grads, "wRec"), flat(bptt.grads, "wRec"));
        console.log(`e-prop vs BPTT cosine (${neuron}, ${loss}, recurrent): wIn ${cosIn.toFixed(4)}, wRec ${cosRec.toFixed(4)}`);
        expect(Number.isFinite(cosIn) && Number.isFinite(cosRec)).toBe(true);
        expect(Math.abs(cosIn)).toBeLessThanOrEqual(1 + 1e-12);
      });
    }
  }
});
