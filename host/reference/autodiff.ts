// Minimal reverse-mode automatic differentiation over scalars (a Wengert tape), used as the
// independent check of the hand-written gradients: a model's forward pass is written once more
// in these operations and the tape differentiates it. Nothing here knows about neurons.
// Every node has at most two parents; `unary` takes its local derivative from the caller, which
// is how a surrogate gradient (a spike with psi in place of dz/du) enters, and `detach` is
// stop-gradient (a new leaf with the same value).

/** A node of the tape (its index). */
export type Var = number;

export class Tape {
  private readonly val: number[] = [];
  private readonly pa: number[] = [];
  private readonly da: number[] = [];
  private readonly pb: number[] = [];
  private readonly db: number[] = [];

  private push(v: number, a = -1, dA = 0, b = -1, dB = 0): Var {
    this.val.push(v);
    this.pa.push(a);
    this.da.push(dA);
    this.pb.push(b);
    this.db.push(dB);
    return this.val.length - 1;
  }

  get size(): number {
    return this.val.length;
  }

  value(x: Var): number {
    return this.val[x]!;
  }

  /** A leaf: an input, a parameter, or a constant. */
  leaf(v: number): Var {
    return this.push(v);
  }

  /** Stop-gradient: the same value, no path back. */
  detach(x: Var): Var {
    return this.leaf(this.val[x]!);
  }

  add(x: Var, y: Var): Var {
    return this.push(this.val[x]! + this.val[y]!, x, 1, y, 1);
  }

  sub(x: Var, y: Var): Var {
    return this.push(this.val[x]! - this.val[y]!, x, 1, y, -1);
  }

  mul(x: Var, y: Var): Var {
    return this.push(this.val[x]! * this.val[y]!, x, this.val[y]!, y, this.val[x]!);
  }

  /** c * x */
  scale(x: Var, c: number): Var {
    return this.push(c * this.val[x]!, x, c);
  }

  /** x + c */
  shift(x: Var, c: number): Var {
    return this.push(this.val[x]! + c, x, 1);
  }

  exp(x: Var): Var {
    const e = Math.exp(this.val[x]!);
    return this.push(e, x, e);
  }

  log(x: Var): Var {
    return this.push(Math.log(this.val[x]!), x, 1 / this.val[x]!);
  }

  /** f(x) with value `v` and local derivative `dvdx` given by the caller. */
  unary(x: Var, v: number, dvdx: number): Var {
    return this.push(v, x, dvdx);
  }

  /** Sum of the nodes (0 for none). */
  sum(xs: readonly Var[]): Var {
    if (xs.length === 0) return this.leaf(0);
    let s = xs[0]!;
    for (let i = 1; i < xs.length; i++) s = this.add(s, xs[i]!);
    return s;
  }

  /** d out / d node for every node of the tape (reverse sweep). */
  gradient(out: Var): Float64Array {
    const adj = new Float64Array(this.val.length);
    adj[out] = 1;
    for (let i = out; i >= 0; i--) {
      const g = adj[i]!;
      if (g === 0) continue;
      const a = this.pa[i]!;
      if (a >= 0) adj[a]! += g * this.da[i]!;
      const b = this.pb[i]!;
      if (b >= 0) adj[b]! += g * this.db[i]!;
    }
    return adj;
  }
}
