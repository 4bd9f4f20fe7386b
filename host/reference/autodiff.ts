// A small reverse-mode automatic differentiation over scalars (a Wengert tape), for checks that
// must be independent of a rule's online recursion: write the forward pass as the spec states
// it, mark what is detached, and let the tape produce the exact gradient of that graph.
// Nodes are indices into flat arrays and are created in topological order, so the backward
// pass is one sweep from the output down. Non-smooth functions (spikes, relu) take their
// derivative from the caller (`unary`), which is where a spec's surrogate conventions go.

export type Node = number;

export class Tape {
  private readonly values: number[] = [];
  /** Parents of node i are parents[start[i] .. start[i+1]) with local derivatives dlocal[...]. */
  private readonly start: number[] = [0];
  private readonly parents: number[] = [];
  private readonly dlocal: number[] = [];

  private push(value: number, ps: readonly Node[] = [], ds: readonly number[] = []): Node {
    this.values.push(value);
    for (let i = 0; i < ps.length; i++) {
      this.parents.push(ps[i]!);
      this.dlocal.push(ds[i]!);
    }
    this.start.push(this.parents.length);
    return this.values.length - 1;
  }

  get size(): number {
    return this.values.length;
  }

  value(a: Node): number {
    return this.values[a]!;
  }

  /** A differentiable input (a parameter whose gradient is wanted). */
  leaf(v: number): Node {
    return this.push(v);
  }

  /** A constant: no derivative flows into it. */
  constant(v: number): Node {
    return this.push(v);
  }

  /** stop-gradient: the value of `a`, with no derivative path back to it. */
  detach(a: Node): Node {
    return this.push(this.value(a));
  }

  add(a: Node, b: Node): Node {
    return this.push(this.value(a) + this.value(b), [a, b], [1, 1]);
  }

  sub(a: Node, b: Node): Node {
    return this.push(this.value(a) - this.value(b), [a, b], [1, -1]);
  }

  mul(a: Node, b: Node): Node {
    return this.push(this.value(a) * this.value(b), [a, b], [this.value(b), this.value(a)]);
  }

  /** c * a for a plain number c. */
  scale(a: Node, c: number): Node {
    return this.push(c * this.value(a), [a], [c]);
  }

  /** a + c for a plain number c. */
  shift(a: Node, c: number): Node {
    return this.push(this.value(a) + c, [a], [1]);
  }

  /** sum_i c_i a_i (+ k): one node for a dot product with constant coefficients. */
  linear(as: readonly Node[], cs: readonly number[], k = 0): Node {
    let v = k;
    for (let i = 0; i < as.length; i++) v += cs[i]! * this.value(as[i]!);
    return this.push(v, as, cs);
  }

  sum(as: readonly Node[]): Node {
    return this.linear(as, as.map(() => 1));
  }

  exp(a: Node): Node {
    const e = Math.exp(this.value(a));
    return this.push(e, [a], [e]);
  }

  log(a: Node): Node {
    return this.push(Math.log(this.value(a)), [a], [1 / this.value(a)]);
  }

  /** f(a) with a caller-given value and derivative (surrogate gradients, relu's H convention). */
  unary(a: Node, value: number, derivative: number): Node {
    return this.push(value, [a], [derivative]);
  }

  /** d out / d node for every node of the tape. */
  gradient(out: Node): Float64Array {
    const adj = new Float64Array(this.values.length);
    adj[out] = 1;
    for (let i = out; i >= 0; i--) {
      const g = adj[i]!;
      if (g === 0) continue;
      for (let e = this.start[i]!; e < this.start[i + 1]!; e++) adj[this.parents[e]!]! += g * this.dlocal[e]!;
    }
    return adj;
  }
}
