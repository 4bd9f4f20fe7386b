// The SAL feedback schedule of a training run (`"feedback": {"kind": "sal", ...}`, `--feedback sal`):
// what each alignment phase runs and with which SAL parameters (MODEL.md "SAL"). The board draws
// B and the thresholds from its own PCG32 stream and computes the gains from its own wOut; the host
// only sends this record (PROTOCOL.md ALIGN), never B.
import { InputError } from "../../input/errors.ts";
import { choice, intIn, obj, type Json } from "../../input/fields.ts";
import { SAL_DEFAULTS, type Precision, type SalDraw, type SalParams } from "../../reference/sal.ts";

export interface SalSchedule extends Omit<SalParams, "dt">, SalDraw {
  /** PCG32 seed of the board's stream (initSeq SAL_SEQ): thresholds, initial B, escape noise. */
  seed: number;
  /** Alignment steps before the first trial. */
  initialSteps: number;
  /** Alignment steps after every update. */
  steps: number;
  /** `phase`: the eta schedule restarts (t = 0) at every phase after the initial one; `never`: t runs on. */
  restart: "phase" | "never";
  /** `--board host` only: "f64" the float64 reference, "f32" bit-identical to a board (e-prop on the wasm kernels). */
  precision: Precision;
}

/** initSeq of the SAL stream ("SAL"). */
export const SAL_SEQ = 0x5a1;

/** The defaults: MODEL.md's prototype parameters, and a schedule that keeps the angle low through training (BENCHMARKS.md, RESULTS.md). */
export const SAL_SCHEDULE_DEFAULTS: Omit<SalSchedule, "seed"> = {
  initialSteps: 60_000,
  steps: 2_000,
  restart: "never",
  theta: 1,
  jitter: 0.2,
  bScale: 0.1,
  tauMem: SAL_DEFAULTS.tauMem,
  tauOut: SAL_DEFAULTS.tauOut,
  tauStdp: SAL_DEFAULTS.tauStdp,
  delta: SAL_DEFAULTS.delta,
  wRms: SAL_DEFAULTS.wRms,
  rhoTarget: SAL_DEFAULTS.rhoTarget,
  etaH: SAL_DEFAULTS.etaH,
  eta0: SAL_DEFAULTS.eta0,
  Ta: SAL_DEFAULTS.Ta,
  precision: "f64",
};

type Check = (x: Json, field: string) => number;
const num = (x: Json, field: string): number => {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new InputError(field, `expected a finite number, got ${JSON.stringify(x)}`);
  return x;
};
const positive: Check = (x, f) => {
  const n = num(x, f);
  if (!(n > 0)) throw new InputError(f, `must be > 0, got ${n}`);
  return n;
};
const nonNegative: Check = (x, f) => {
  const n = num(x, f);
  if (n < 0) throw new InputError(f, `must be >= 0 (a learning rate cannot be negative), got ${n}`);
  return n;
};
const rate: Check = (x, f) => {
  const n = num(x, f);
  if (!(n > 0 && n < 1)) throw new InputError(f, `must be a rate in (0, 1), got ${n}`);
  return n;
};
const fraction: Check = (x, f) => {
  const n = num(x, f);
  if (!(n >= 0 && n < 1)) throw new InputError(f, `must be in [0, 1), got ${n}`);
  return n;
};
const steps: Check = (x, f) => intIn(x, f, 0, 100_000_000);

const CHECKS: Record<Exclude<keyof SalSchedule, "restart" | "precision">, Check> = {
  seed: (x, f) => intIn(x, f, 0, 2 ** 32 - 1),
  initialSteps: steps,
  steps,
  theta: positive,
  jitter: fraction,
  bScale: positive,
  tauMem: positive,
  tauOut: positive,
  tauStdp: positive,
  delta: positive,
  wRms: positive,
  rhoTarget: rate,
  etaH: nonNegative,
  eta0: nonNegative,
  Ta: positive,
};
const FIELDS = ["kind", ...Object.keys(CHECKS), "restart", "precision"];

/** The schedule of `feedback` (kind "sal"), every default filled in; errors name `feedback.<field>`. */
export function parseSalSchedule(x: Json, defaultSeed: number): SalSchedule {
  const f = obj(x, "feedback");
  for (const k of Object.keys(f)) {
    if (!FIELDS.includes(k)) throw new InputError(`feedback.${k}`, `not a field of SAL feedback (known: ${FIELDS.join(", ")}); B is learned on the board, never given`);
  }
  const out: SalSchedule = { ...SAL_SCHEDULE_DEFAULTS, seed: defaultSeed };
  for (const [k, check] of Object.entries(CHECKS) as [keyof typeof CHECKS, Check][]) {
    if (f[k] !== undefined) out[k] = check(f[k], `feedback.${k}`);
  }
  if (f.restart !== undefined) out.restart = choice(f.restart, "feedback.restart", ["phase", "never"] as const);
  if (f.precision !== undefined) out.precision = choice(f.precision, "feedback.precision", ["f64", "f32"] as const);
  return out;
}

/** The decays of the alignment phase (MODEL.md: dt = 1 ms), in float64. */
export function salDecays(s: SalSchedule): { alpha: number; kappa: number; lambda: number } {
  return { alpha: Math.exp(-1 / s.tauMem), kappa: Math.exp(-1 / s.tauOut), lambda: Math.exp(-1 / s.tauStdp) };
}

/** SalParams of the reference (dt 1). */
export function salParamsOf(s: SalSchedule): SalParams {
  const { tauMem, tauOut, tauStdp, delta, wRms, rhoTarget, etaH, eta0, Ta } = s;
  return { dt: 1, tauMem, tauOut, tauStdp, delta, wRms, rhoTarget, etaH, eta0, Ta };
}

/** The schedule as run.json / the run's identity show it. */
export function salScheduleJson(s: SalSchedule): Record<string, Json> {
  return { ...s };
}
