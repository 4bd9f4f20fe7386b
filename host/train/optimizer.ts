// The optimizers of MODEL.md's training loop, over named parameter arrays (flattened rows).
//   gd:   W -= lr*g, then clipped to [wMin, wMax] if given.
//   adam: the TensorFlow (tf.train.AdamOptimizer) form with the bias correction folded into lr_t.
// The state is plain data so it can be checkpointed and resumed exactly.
import { InputError } from "../input/errors.ts";
import { choice, finite, intIn, obj, type Json } from "../input/fields.ts";

export interface OptimizerConfig {
  kind: "gd" | "adam";
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wMin: number | null;
  wMax: number | null;
}

export interface OptimizerState {
  step: number; // n: updates applied so far
  m: Record<string, number[]>;
  v: Record<string, number[]>;
}

export const OPTIMIZER_DEFAULTS: OptimizerConfig = { kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wMin: null, wMax: null };

/** The optimizer fields parseOptimizer reads (with their aliases). */
const OPTIMIZER_FIELDS = ["kind", "name", "type", "lr", "learningRate", "beta1", "b1", "beta2", "b2", "eps", "epsilon", "wMin", "wMax"];

/** Fields of an optimizer object that parseOptimizer does not read: likely typos (`lR`), warned about. */
export function unknownOptimizerFields(x: Json): string[] {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return [];
  return Object.keys(x).filter((k) => !OPTIMIZER_FIELDS.includes(k));
}

/** Accepts `"adam"` or `{ "kind": "adam", "lr": ..., "beta1"|"b1", "beta2"|"b2", "eps"|"epsilon", "wMin", "wMax" }`. */
export function parseOptimizer(x: Json): OptimizerConfig {
  if (x === undefined) return { ...OPTIMIZER_DEFAULTS };
  if (typeof x === "string") return { ...OPTIMIZER_DEFAULTS, kind: choice(x, "optimizer", ["gd", "adam"] as const) };
  const o = obj(x, "optimizer");
  const pick = (names: string[], dflt: number, check: (v: number, f: string) => void = () => {}) => {
    const name = names.find((n) => o[n] !== undefined);
    if (name === undefined) return dflt;
    const v = finite(o[name], `optimizer.${name}`);
    check(v, `optimizer.${name}`);
    return v;
  };
  const positive = (v: number, f: string) => {
    if (v <= 0) throw new InputError(f, `expected a number > 0, got ${v}`);
  };
  const unit = (v: number, f: string) => {
    if (v < 0 || v >= 1) throw new InputError(f, `expected a number in [0, 1), got ${v}`);
  };
  const kindField = ["kind", "name", "type"].find((n) => o[n] !== undefined) ?? "kind";
  const cfg: OptimizerConfig = {
    kind: o[kindField] === undefined ? OPTIMIZER_DEFAULTS.kind : choice(o[kindField], `optimizer.${kindField}`, ["gd", "adam"] as const),
    lr: pick(["lr", "learningRate"], OPTIMIZER_DEFAULTS.lr, positive),
    beta1: pick(["beta1", "b1"], OPTIMIZER_DEFAULTS.beta1, unit),
    beta2: pick(["beta2", "b2"], OPTIMIZER_DEFAULTS.beta2, unit),
    eps: pick(["eps", "epsilon"], OPTIMIZER_DEFAULTS.eps, positive),
    wMin: o.wMin === undefined || o.wMin === null ? null : finite(o.wMin, "optimizer.wMin"),
    wMax: o.wMax === undefined || o.wMax === null ? null : finite(o.wMax, "optimizer.wMax"),
  };
  if (cfg.wMin !== null && cfg.wMax !== null && cfg.wMin > cfg.wMax) {
    throw new InputError("optimizer.wMin", `must be <= optimizer.wMax (${cfg.wMax}), got ${cfg.wMin}`);
  }
  return cfg;
}

export function newOptimizerState(): OptimizerState {
  return { step: 0, m: {}, v: {} };
}

export function parseOptimizerState(x: Json, field: string): OptimizerState {
  const o = obj(x, field);
  const arrays = (y: Json, f: string) => {
    const rec = obj(y, f);
    const out: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (!Array.isArray(v)) throw new InputError(`${f}.${k}`, "expected an array of numbers");
      out[k] = v.map((n, i) => finite(n, `${f}.${k}[${i}]`));
    }
    return out;
  };
  return { step: intIn(o.step, `${field}.step`, 0, Number.MAX_SAFE_INTEGER), m: arrays(o.m, `${field}.m`), v: arrays(o.v, `${field}.v`) };
}

/**
 * Applies one update to every named parameter array in place. `clip` names the arrays that
 * are weights (clipped to [wMin, wMax], for both optimizers when given).
 */
export function applyUpdate(
  cfg: OptimizerConfig,
  state: OptimizerState,
  params: Record<string, number[]>,
  grads: Record<string, number[]>,
  clip: ReadonlySet<string>,
): void {
  state.step++;
  const n = state.step;
  const lrT = cfg.kind === "adam" ? (cfg.lr * Math.sqrt(1 - cfg.beta2 ** n)) / (1 - cfg.beta1 ** n) : cfg.lr;
  for (const [name, w] of Object.entries(params)) {
    const g = grads[name]!;
    if (cfg.kind === "gd") {
      for (let i = 0; i < w.length; i++) w[i]! -= cfg.lr * g[i]!;
    } else {
      const m = (state.m[name] ??= new Array<number>(w.length).fill(0));
      const v = (state.v[name] ??= new Array<number>(w.length).fill(0));
      for (let i = 0; i < w.length; i++) {
        m[i] = cfg.beta1 * m[i]! + (1 - cfg.beta1) * g[i]!;
        v[i] = cfg.beta2 * v[i]! + (1 - cfg.beta2) * g[i]! * g[i]!;
        w[i]! -= (lrT * m[i]!) / (Math.sqrt(v[i]!) + cfg.eps);
      }
    }
    if (clip.has(name) && (cfg.wMin !== null || cfg.wMax !== null)) {
      const lo = cfg.wMin ?? -Infinity;
      const hi = cfg.wMax ?? Infinity;
      for (let i = 0; i < w.length; i++) w[i] = Math.min(hi, Math.max(lo, w[i]!));
    }
  }
}
