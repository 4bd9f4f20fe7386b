// Independent check of the DECOLLE reference: the whole trial's objective built as one graph on
// an autodiff tape, straight from DECOLLE.md's equations and its "What is detached" section
// (layer inputs, P, Q, R and S^{t-1} are values, not graph nodes; only W, b -> U -> S -> y -> E
// and U -> Reg stay differentiable), then one reverse sweep. It shares no code with the online
// recursion of reference.ts: no per-step delta, no trace of gradients in time.
import { Tape, type Node } from "../../reference/autodiff.ts";
import type { DecolleGrad } from "./reference.ts";
import { traceGains, type DecolleCase } from "./schema.ts";

export interface CheckOptions {
  /**
   * "spec": P^t from Q^{t-1} (DECOLLE.md). "pFromCurrentQ": the misreading the spec names
   * (P^t from Q^t), so tests can show that the reference is told apart from it.
   */
  timing?: "spec" | "pFromCurrentQ";
}

const sig = (u: number) => 1 / (1 + Math.exp(-u));

export function decolleCheck(c: DecolleCase, opts: CheckOptions = {}): DecolleGrad {
  const { model } = c;
  const { nOut } = model;
  const tape = new Tape();
  const W = c.params.layers.map((p) => p.w.map((row) => row.map((v) => tape.leaf(v))));
  const B = c.params.layers.map((p) => p.b.map((v) => tape.leaf(v)));
  const sizes = [model.nIn, ...model.layers.map((l) => l.n)];
  // state values (no derivative: detached)
  const Q = sizes.slice(0, -1).map((n) => new Array<number>(n).fill(0));
  const P = sizes.slice(0, -1).map((n) => new Array<number>(n).fill(0));
  const R = model.layers.map((l) => new Array<number>(l.n).fill(0));
  const Sv = model.layers.map((l) => new Array<number>(l.n).fill(0));
  const taskTerms: Node[][] = model.layers.map(() => []);
  const regTerms: Node[] = [];
  const M = model.lossReduction === "mean" ? Math.max(1, c.mask.reduce((a, b) => a + b, 0)) : 1;

  c.inputs.forEach((x, t) => {
    const mask = c.mask[t]!;
    const target = c.targets[t]!;
    let s: number[] = x;
    model.layers.forEach((cfg, l) => {
      const { cQ, cP } = traceGains(model.traceScale, cfg);
      const Ql = Q[l]!, Pl = P[l]!;
      const Qprev = Ql.slice();
      for (let i = 0; i < Ql.length; i++) Ql[i] = cfg.beta * Ql[i]! + cQ * s[i]!;
      const Qused = opts.timing === "pFromCurrentQ" ? Ql : Qprev;
      for (let i = 0; i < Pl.length; i++) Pl[i] = cfg.alpha * Pl[i]! + cP * Qused[i]!;
      const Rl = R[l]!;
      for (let j = 0; j < cfg.n; j++) Rl[j] = cfg.alpharp * Rl[j]! - cfg.wrp * Sv[l]![j]!;
      // U = W P + b + R: differentiable in W and b only
      const U = W[l]!.map((row, j) => tape.shift(tape.add(tape.linear(row, Pl), B[l]![j]!), Rl[j]!));
      const S = U.map((u) => {
        const v = tape.value(u);
        const d = model.surrogate === "box" ? (v > -0.5 && v <= 0.5 ? 1 : 0) : sig(v) * (1 - sig(v));
        return tape.unary(u, v >= 0 ? 1 : 0, d);
      });
      const G = c.readouts[l]!.G, bG = c.readouts[l]!.bG;
      const y = Array.from({ length: nOut }, (_, k) => tape.linear(S, G[k]!, bG[k]!));
      if (mask === 1) taskTerms[l]!.push(lossGraph(tape, model.loss, y, target));
      if (mask === 1 && cfg.reg > 0) {
        const relu = (a: Node) => tape.unary(a, Math.max(0, tape.value(a)), tape.value(a) > 0 ? 1 : 0);
        const sigmas = U.map((u) => {
          const v = sig(tape.value(u));
          return tape.unary(u, v, v * (1 - v));
        });
        const meanRelu = tape.scale(tape.sum(U.map((u) => relu(tape.shift(u, 0.01)))), 1 / cfg.n);
        const m = tape.scale(tape.sum(sigmas.map((sv) => tape.shift(tape.scale(sv, -1), 0.1))), 1 / cfg.n);
        regTerms.push(tape.scale(tape.add(tape.scale(meanRelu, 1e-2), tape.scale(relu(m), 6e-5)), cfg.reg));
      }
      Sv[l] = S.map((n) => tape.value(n));
      s = Sv[l]!;
    });
  });

  const layerE = taskTerms.map((terms) => tape.scale(tape.sum(terms), 1 / M));
  const objective = tape.add(tape.sum(layerE), tape.scale(tape.sum(regTerms), 1 / M));
  const adj = tape.gradient(objective);
  const layerLoss = layerE.map((e) => tape.value(e));
  return {
    loss: layerLoss.reduce((a, b) => a + b, 0),
    layerLoss,
    grads: { layers: W.map((rows, l) => ({ w: rows.map((row) => row.map((n) => adj[n]!)), b: B[l]!.map((n) => adj[n]!) })) },
  };
}

/** l(y, target) of one step as a graph. */
function lossGraph(tape: Tape, kind: DecolleCase["model"]["loss"], y: Node[], target: number[]): Node {
  if (kind === "ce") {
    // -sum_k t_k (y_k - log sum_j exp y_j), shifted by the (constant) max for range
    const m = Math.max(...y.map((n) => tape.value(n)));
    const lse = tape.shift(tape.log(tape.sum(y.map((n) => tape.exp(tape.shift(n, -m))))), m);
    return tape.scale(tape.sum(y.map((n, k) => tape.scale(tape.sub(n, lse), target[k]!))), -1);
  }
  return tape.sum(
    y.map((n, k) => {
      const d = tape.shift(n, -target[k]!);
      const v = tape.value(d);
      if (kind === "mse" || Math.abs(v) < 1) return tape.scale(tape.mul(d, d), 0.5);
      return tape.unary(d, Math.abs(v) - 0.5, Math.sign(v));
    }),
  );
}
