// Learning-rate schedules (run config `lrSchedule`, `--lr-schedule`): the rate of update n
// (1-based; with mini-batches one update per batch) as a function of the optimizer's base lr.
//   warm-up:      n <= warmup: lr * n / warmup (linear, from lr/warmup up to lr)
//   then, with s = n - warmup - 1 the updates since the warm-up (0 at the first one):
//   constant:     lr
//   step:         lr * gamma^floor(s / every)
//   exponential:  lr * gamma^s
//   cosine:       minLr + (lr - minLr) * (1 + cos(pi * min(s, D) / D)) / 2,  D = total - warmup
//                 (`total` defaults to the run's iterations: minLr is reached at the last update)
// The host computes the rate in float64 and every board receives it in its APPLY (`lr`), which it
// rounds to float32 once and echoes: boards do not evaluate the formula, so there is one copy of
// it and host and boards cannot drift apart (README "Training at scale").
import { InputError } from "../input/errors.ts";
import { choice, finite, intIn, obj, type Json } from "../input/fields.ts";

export const SCHEDULE_KINDS = ["constant", "step", "cosine", "exponential"] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface LrSchedule {
  kind: ScheduleKind;
  /** Updates of linear warm-up (0: none). */
  warmup: number;
  /** step: updates between two decays. */
  every?: number;
  /** step, exponential: the decay factor, in (0, 1]. */
  gamma?: number;
  /** cosine: the update at which the rate reaches minLr (default: the run's iterations). */
  total?: number;
  /** cosine: the final rate (default 0). */
  minLr?: number;
}

const FIELDS: Record<ScheduleKind, readonly string[]> = {
  constant: ["kind", "warmup"],
  step: ["kind", "warmup", "every", "gamma"],
  exponential: ["kind", "warmup", "gamma"],
  cosine: ["kind", "warmup", "total", "minLr"],
};

/**
 * `{"kind": "cosine", "warmup": 100, "minLr": 1e-5}` etc. (absent: undefined, a constant rate).
 * `iterations` is the run's update count (the warm-up must end before it; cosine's default total).
 */
export function parseLrSchedule(x: Json, iterations: number, field = "lrSchedule"): LrSchedule | undefined {
  if (x === undefined || x === null) return undefined;
  const o = typeof x === "string" ? { kind: x } : obj(x, field);
  const kind = choice(o.kind, `${field}.kind`, SCHEDULE_KINDS);
  for (const k of Object.keys(o)) {
    if (!FIELDS[kind].includes(k)) throw new InputError(`${field}.${k}`, `not a field of a '${kind}' schedule; expected ${FIELDS[kind].join(", ")}`);
  }
  const warmup = o.warmup === undefined ? 0 : finite(o.warmup, `${field}.warmup`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new InputError(`${field}.warmup`, `expected a whole number of updates >= 0, got ${warmup}`);
  if (warmup >= iterations) throw new InputError(`${field}.warmup`, `must be less than the run's ${iterations} iterations (updates), got ${warmup}`);
  const gamma = (dflt?: number) => {
    if (o.gamma === undefined && dflt === undefined) throw new InputError(`${field}.gamma`, "missing: the decay factor per update, in (0, 1]");
    const g = o.gamma === undefined ? dflt! : finite(o.gamma, `${field}.gamma`);
    if (!(g > 0 && g <= 1)) throw new InputError(`${field}.gamma`, `expected a decay factor in (0, 1], got ${g}`);
    return g;
  };
  const s: LrSchedule = { kind, warmup };
  if (kind === "step") {
    s.every = intIn(o.every, `${field}.every`, 1, Number.MAX_SAFE_INTEGER);
    s.gamma = gamma(0.1);
  } else if (kind === "exponential") {
    s.gamma = gamma();
  } else if (kind === "cosine") {
    s.total = o.total === undefined ? iterations : intIn(o.total, `${field}.total`, warmup + 1, Number.MAX_SAFE_INTEGER);
    s.minLr = o.minLr === undefined ? 0 : finite(o.minLr, `${field}.minLr`);
    if (s.minLr < 0) throw new InputError(`${field}.minLr`, `expected a rate >= 0, got ${s.minLr}`);
  }
  return s;
}

/**
 * `kind[,key=value...]` from the command line (e.g. `cosine,warmup=50,minLr=1e-5`), as the object
 * parseLrSchedule reads.
 */
export function scheduleFromFlag(text: string, flag: string): Record<string, Json> {
  const [kind, ...pairs] = text.split(",");
  const out: Record<string, Json> = { kind: kind! };
  for (const pair of pairs) {
    const [k, v] = pair.split("=");
    if (!k || v === undefined || !Number.isFinite(Number(v))) throw new InputError(flag, `expected kind[,key=number...], got '${pair}'`);
    out[k] = Number(v);
  }
  return out;
}

/** The float64 learning rate of update n (1-based) for base rate `lr`. */
export function lrAt(lr: number, s: LrSchedule | undefined, n: number): number {
  if (!s) return lr;
  if (n <= s.warmup) return (lr * n) / s.warmup;
  const k = n - s.warmup - 1;
  switch (s.kind) {
    case "constant":
      return lr;
    case "step":
      return lr * s.gamma! ** Math.floor(k / s.every!);
    case "exponential":
      return lr * s.gamma! ** k;
    case "cosine": {
      const d = s.total! - s.warmup;
      return s.minLr! + ((lr - s.minLr!) * (1 + Math.cos((Math.PI * Math.min(k, d)) / d))) / 2;
    }
  }
}
