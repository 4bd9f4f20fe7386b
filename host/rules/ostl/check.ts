// The independent check of OSTL.md statement 5: the stack's forward pass written once more from
// the spec's equations on an autodiff tape (host/reference/autodiff.ts), not from the OSTL or
// BPTT recursions. BPTT is the gradient of the full graph; OSTL is the gradient of the cut
// graph, in which "each layer's recursion over time sees the output of the layer below as a
// constant at every earlier step; only the current step's input is live": for the parameters
// of layer l, every layer above l (and the readout's filter, unless l is the top layer) has its
// temporal state (v, a, the reset and adaptation inputs z^{t-1}, y^{t-1}) detached.
import { Tape, type Node as Var } from "../../reference/autodiff.ts";
import { heaviside } from "../../model/spike.ts";
import type { OstlCase, OstlGrads } from "./schema.ts";

interface Leaves {
  layers: { w: Var[][]; b: Var[] }[];
  wOut: Var[][];
  bOut: Var[];
}

/**
 * Builds E on a tape. `live(m)`: whether layer m's temporal state carries derivative
 * (m = L is the readout filter). The reset term carries it only if also `resetGrad`.
 */
function buildLoss(c: OstlCase, live: (m: number) => boolean): { tape: Tape; loss: Var; leaves: Leaves } {
  const { model: m, params: p } = c;
  const tape = new Tape();
  const L = m.layers.length;
  const leaves: Leaves = {
    layers: p.layers.map((lp) => ({ w: lp.w.map((row) => row.map((x) => tape.leaf(x))), b: lp.b.map((x) => tape.leaf(x)) })),
    wOut: p.wOut.map((row) => row.map((x) => tape.leaf(x))),
    bOut: p.bOut.map((x) => tape.leaf(x)),
  };
  const keep = (mm: number, x: Var) => (live(mm) ? x : tape.detach(x));
  let v = m.layers.map((l) => new Array<Var>(l.n).fill(tape.leaf(0)));
  let a = m.layers.map((l) => new Array<Var>(l.n).fill(tape.leaf(0)));
  let z = m.layers.map((l) => new Array<Var>(l.n).fill(tape.leaf(0)));
  let y = new Array<Var>(m.nOut).fill(tape.leaf(0));
  const kappa = Math.exp(-m.dt / m.tauOut);
  const terms: Var[] = [];
  c.inputs.forEach((x, t) => {
    // layer 0's input is data: a constant, zero entries contribute nothing
    let pre: Array<Var | null> = x.map((xi) => (xi === 0 ? null : tape.leaf(xi)));
    for (let l = 0; l < L; l++) {
      const layer = m.layers[l]!;
      const alpha = Math.exp(-m.dt / layer.tauMem);
      const rho = Math.exp(-m.dt / layer.tauAdapt);
      const lw = leaves.layers[l]!;
      const zl = z[l]!.map((zj) => keep(l, zj));
      const zReset = m.resetGrad ? zl : zl.map((zj) => tape.detach(zj));
      const vl = v[l]!.map((vj) => keep(l, vj));
      const al = a[l]!.map((aj) => keep(l, aj));
      const nv: Var[] = [], na: Var[] = [], nz: Var[] = [];
      for (let j = 0; j < layer.n; j++) {
        const drive = tape.sum([lw.b[j]!, ...pre.flatMap((pi, i) => (pi === null ? [] : [tape.mul(lw.w[j]![i]!, pi)]))]);
        const vj = tape.sub(tape.add(tape.scale(vl[j]!, alpha), drive), tape.scale(zReset[j]!, layer.vTh));
        const aj = tape.add(tape.scale(al[j]!, rho), zl[j]!);
        const u = tape.sub(vj, tape.shift(tape.scale(aj, layer.beta[j]!), layer.vTh));
        const uv = tape.value(u);
        nv.push(vj);
        na.push(aj);
        nz.push(tape.unary(u, heaviside.z(uv, layer.vTh), heaviside.psi(uv, layer.vTh, layer.gamma)));
      }
      v[l] = nv;
      a[l] = na;
      z[l] = nz;
      pre = nz;
    }
    const zTop = z[L - 1]!;
    y = y.map((yo, o) => {
      const drive = tape.sum([leaves.bOut[o]!, ...zTop.map((zj, j) => tape.mul(leaves.wOut[o]![j]!, zj))]);
      return tape.add(tape.scale(keep(L, yo), kappa), drive);
    });
    const target = c.targets[t]!;
    if (m.loss === "mse") {
      y.forEach((yo, o) => {
        const e = tape.shift(yo, -target[o]!);
        terms.push(tape.scale(tape.mul(e, e), 0.5));
      });
    } else if (c.mask[t]) {
      // -sum_k target_k log softmax(y)_k, with the max shift detached (the value does not depend on it)
      const shift = Math.max(...y.map((yo) => tape.value(yo)));
      const lse = tape.shift(tape.log(tape.sum(y.map((yo) => tape.exp(tape.shift(yo, -shift))))), shift);
      target.forEach((tk, o) => {
        if (tk) terms.push(tape.scale(tape.sub(y[o]!, lse), -tk));
      });
    }
  });
  const norm = m.lossReduction === "sum" ? 1 : m.loss === "mse" ? c.mask.length : c.mask.reduce((s, x) => s + x, 0);
  return { tape, loss: tape.scale(tape.sum(terms), 1 / norm), leaves };
}

function read(adj: Float64Array, leaves: Leaves): OstlGrads {
  const at = (x: Var) => adj[x]!;
  return {
    layers: leaves.layers.map((l) => ({ w: l.w.map((row) => row.map(at)), b: l.b.map(at) })),
    wOut: leaves.wOut.map((row) => row.map(at)),
    bOut: leaves.bOut.map(at),
  };
}

/**
 * Loss and gradients by automatic differentiation: "bptt" of the full graph, "ostl" of the cut
 * graph (one tape per lower layer; the top layer and the readout are read from the full graph,
 * where nothing above them is cut).
 */
export function autodiffGrad(c: OstlCase, graph: "bptt" | "ostl"): { loss: number; grads: OstlGrads } {
  const L = c.model.layers.length;
  const full = buildLoss(c, () => true);
  const grads = read(full.tape.gradient(full.loss), full.leaves);
  if (!c.model.trainBias) grads.bOut = grads.bOut.map(() => 0);
  if (graph === "ostl") {
    for (let l = 0; l < L - 1; l++) {
      const cut = buildLoss(c, (mm) => mm <= l);
      grads.layers[l] = read(cut.tape.gradient(cut.loss), cut.leaves).layers[l]!;
    }
  }
  return { loss: full.tape.value(full.loss), grads };
}
