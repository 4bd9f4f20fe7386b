// The neuron step of MODEL.md in its three places — the pure step (host/model/lif.ts), the
// float64 forward pass and online e-prop that step through it, and the device kernel's float32
// copy (device/kernels/eprop.ts) — against a refractory trajectory worked out by hand. MODEL.md:
// "refractory steps after a spike in which z_j is held at 0 and psi_j = 0 (v keeps
// integrating)": a spike at step t holds steps t+1 .. t+refractory; the spike step is not held.
import { beforeAll, describe, expect, it } from "vitest";
import { parseCase } from "../host/case/parse.ts";
import { randomCase } from "../host/case/random.ts";
import { ensureWasm } from "../host/device/build.ts";
import { deviceGrad } from "../host/device/driver.ts";
import { lossNormaliser } from "../host/model/decay.ts";
import { lifInitialState, lifParameters, lifStep } from "../host/model/lif.ts";
import { sigmoidSpike } from "../host/model/spike.ts";
import { EpropStream } from "../host/reference/eprop.ts";
import { simulate } from "../host/reference/simulate.ts";

beforeAll(() => ensureWasm("scalar"));

// One LIF neuron, alpha = 1/2 (tau = 1/ln 2), wIn = 1.6, x = 1 every step, vTh = 1, refractory 2:
//   t=1: v = 1.6                       u = 0.6   spike, hold 2
//   t=2: v = 0.8 + 1.6 - 1 = 1.4       held (u = 0.4 > 0 does not restart the hold)
//   t=3: v = 0.7 + 1.6 = 2.3           held
//   t=4: v = 1.15 + 1.6 = 2.75         u = 1.75  spike (psi = 0.3 * max(0, 1 - 1.75) = 0), hold 2
//   t=5: v = 1.375 + 1.6 - 1 = 1.975   held
//   t=6: v = 0.9875 + 1.6 = 2.5875     held
//   t=7: v = 1.29375 + 1.6 = 2.89375   spike
// Spikes every refractory + 1 steps. (A hold that counted the spike step itself would spike at
// t = 1, 3, 5, 7; one that restarted on u > 0 while held would never spike again.)
const tau = 1 / Math.LN2;
const T = 7;
const hand = parseCase({
  format: "hil-case/1", name: "refractory-by-hand",
  model: { neuron: "lif", nIn: 1, nRec: 1, nOut: 1, dt: 1, tauMem: tau, tauOut: tau, vTh: 1, gamma: 0.3, refractory: 2, loss: "mse" },
  params: { wIn: [[1.6]], wRec: [[0]], wOut: [[1]], bOut: [0] },
  inputs: Array.from({ length: T }, () => [1]),
  targets: Array.from({ length: T }, () => [0]),
});
const Z = [1, 0, 0, 1, 0, 0, 1];
const V = [1.6, 1.4, 2.3, 2.75, 1.975, 2.5875, 2.89375];
const HELD = [false, true, true, false, true, true, false];

describe("refractory hold, worked out by hand", () => {
  it("lifStep", () => {
    const p = lifParameters(hand.model);
    let s = lifInitialState(1);
    for (let t = 0; t < T; t++) {
      const r = lifStep(p, s, hand.inputs[t]!, hand.params.wIn, hand.params.wRec);
      s = r.state;
      expect(s.z[0], `z at t=${t + 1}`).toBe(Z[t]);
      expect(s.v[0]).toBeCloseTo(V[t]!, 12);
      expect(r.held[0], `held at t=${t + 1}`).toBe(HELD[t]);
      if (HELD[t]) expect(r.psi[0]).toBe(0);
    }
  });

  it("the forward pass and online e-prop", () => {
    const tr = simulate(hand);
    expect(tr.z.map((r) => r[0])).toEqual(Z);
    expect(tr.refractory.map((r) => r[0])).toEqual(HELD);
    tr.v.forEach((r, t) => expect(r[0]).toBeCloseTo(V[t]!, 12));
    const stream = new EpropStream(hand.model, hand.params, hand.feedback.B, lossNormaliser(hand.model, hand.mask));
    expect(hand.inputs.map((x, t) => stream.step(x, hand.targets[t]!, 1).z[0])).toEqual(Z);
  });

  it("the device kernel (float32, scalar build)", async () => {
    const d = await deviceGrad(hand, "scalar", { recordSpikes: true });
    expect(d.spikes!.map((r) => r[0])).toEqual(Z);
  });

  it("the hold starts on the spike decision u > 0, whatever the spike function gives", () => {
    // The smooth spike of the finite-difference check gives z in (0, 1) at every step; the hold
    // still starts exactly where the Heaviside would spike (u > 0), as in the device kernel.
    const p = lifParameters(hand.model, sigmoidSpike(0.3));
    let s = lifInitialState(1);
    const held: boolean[] = [];
    for (let t = 0; t < T; t++) {
      const r = lifStep(p, s, hand.inputs[t]!, hand.params.wIn, hand.params.wRec);
      held.push(r.held[0]!);
      s = r.state;
    }
    expect(held).toEqual(HELD);
    const quiet = lifStep(p, lifInitialState(1), [0.5], hand.params.wIn, hand.params.wRec); // u = -0.2
    expect(quiet.state.z[0]).toBeGreaterThan(0);
    expect(quiet.state.hold[0]).toBe(0);
  });
});

describe("forward pass and online e-prop step the same neurons", () => {
  it("spike for spike on random recurrent ALIF cases with refractory 1..4", () => {
    for (const refractory of [1, 2, 3, 4]) {
      const c = randomCase({ neuron: "alif", recurrent: true, refractory, seed: 30 + refractory, T: 200 });
      const tr = simulate(c);
      const stream = new EpropStream(c.model, c.params, c.feedback.B, lossNormaliser(c.model, c.mask));
      const z = c.inputs.map((x, t) => stream.step(x, c.targets[t]!, c.mask[t]!).z);
      expect(z).toEqual(tr.z);
      expect(tr.refractory.flat().some(Boolean)).toBe(true);
    }
  });
});
