// `--board host` for e-prop with SAL feedback: the combined loop of issue 12 on the host. Iteration
// n: (n = 1: draw the start — thresholds, initial B — from the SAL stream and run the initial
// phase), the trial with the current B, the optimizer update, then an alignment phase of
// `steps` with the gains of the new wOut (and the eta schedule restarted under restart "phase").
//   - precision "f64": e-prop's float64 reference (epropGrad + the float64 optimizer) and the
//     float64 SAL reference;
//   - precision "f32": the combination a board runs, bit for bit: e-prop's trial and update on the
//     wasm kernels in process (the board's own float32 code; e-prop has no float32 reference of
//     its own) and every alignment phase on the SAL reference in its float32 mode, which reads
//     wOut from the kernels and writes B back. tests/sal-train.test.ts ties it to the sim board.
// B is never computed from wOut: it starts from the stream and changes only inside SalStream.step.
import { EpropDevice } from "../../device/driver.ts";
import type { ArenaPlan } from "../../device/planner.ts";
import { InputError } from "../../input/errors.ts";
import type { Case, GradResult, Matrix } from "../../model/types.ts";
import { alignmentAngleDeg, angleOfCos, feedbackCos, SAL_COUNTERS, SalStream, type Precision, type SalVectors } from "../../reference/sal.ts";
import { forward } from "../../reference/simulate.ts";
import type { Trial } from "../../tasks/task.ts";
import type { TrainTarget, TrialOutcome } from "../../train/target.ts";
import { applyTensorUpdate } from "../../train/tensors.ts";
import type { RunSpec, TensorSpec } from "../../train/training.ts";
import { scheduleOf } from "./sal-board.ts";
import { SAL_SEQ, salParamsOf, type SalSchedule } from "./sal-config.ts";
import type { RecurrentState } from "./training.ts";

/** A run's state with SAL feedback: e-prop's, plus everything the SAL stream carries between phases. */
export interface SalRunState extends RecurrentState {
  sal: SalVectors;
}

/** The SAL record's tensors (checkpoints check their shapes and finiteness; salStreamOf their ranges). */
export function salTensors(nRec: number, nOut: number): TensorSpec[] {
  const vec = (name: string, n: number, dim: string): TensorSpec => ({ name: `sal.${name}`, path: ["sal", name], shape: [n], dims: [dim], kind: "state" });
  return [
    ...["v", "z", "q", "bL", "thL"].map((n) => vec(n, nRec, "nRec")),
    ...["u", "y", "r", "bU", "thU"].map((n) => vec(n, nOut, "nOut")),
    vec("gains", 2, "2"),
    vec("counters", SAL_COUNTERS, String(SAL_COUNTERS)),
  ];
}

/** The SAL record before the first iteration (nothing drawn yet: counters[7], "ready", is 0). */
export function salStateZero(nRec: number, nOut: number): SalVectors {
  const z = (n: number) => new Array<number>(n).fill(0);
  return { v: z(nRec), z: z(nRec), q: z(nRec), bL: z(nRec), thL: z(nRec), u: z(nOut), y: z(nOut), r: z(nOut), bU: z(nOut), thU: z(nOut), gains: z(2), counters: z(SAL_COUNTERS) };
}

/** The stream a (checked) state continues, or null before iteration 1; InputError naming the field otherwise. */
function salStreamOf(s: SalRunState, sched: SalSchedule, precision: Precision): SalStream | null {
  const c = s.sal.counters;
  c.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new InputError(`state.sal.counters[${i}]`, `expected an unsigned 32-bit integer, got ${x}`);
  });
  if (c[7]! > 1) throw new InputError("state.sal.counters[7]", `expected 0 (not started) or 1 (started), got ${c[7]}`);
  for (const k of ["z", "y"] as const) {
    s.sal[k].forEach((x, i) => {
      if (x !== 0 && x !== 1) throw new InputError(`state.sal.${k}[${i}]`, `expected a spike (0 or 1), got ${x}`);
    });
  }
  if (c[7] === 0) return null;
  return SalStream.resume({ B: s.B, wOut: s.params.wOut, params: salParamsOf(sched), precision }, s.sal);
}

function startStream(spec: RunSpec<Case, Trial>, precision: Precision): SalStream {
  const s = scheduleOf(spec);
  const { nRec, nOut } = spec.base.model;
  return SalStream.draw({ nRec, nOut, seed: s.seed, seq: SAL_SEQ, draw: s, params: salParamsOf(s), precision });
}

/** One alignment phase: gains from the current wOut, eta schedule restarted or not, n steps. */
function phase(stream: SalStream, wOut: Matrix, n: number, restart: boolean): void {
  stream.setForward(wOut);
  stream.gains();
  if (restart) stream.restart();
  stream.run(n);
}

/** precision "f64": e-prop's and SAL's float64 references. */
export class SalHostTarget implements TrainTarget<SalRunState, Trial> {
  readonly board = "host";
  private readonly s: SalRunState;
  private stream: SalStream | null;
  private readonly sched: SalSchedule;

  constructor(
    private readonly spec: RunSpec<Case, Trial>,
    initial: SalRunState,
    private readonly grad: (c: Case) => GradResult,
    private readonly trained: readonly TensorSpec[],
  ) {
    this.s = structuredClone(initial);
    this.sched = scheduleOf(spec);
    this.stream = salStreamOf(this.s, this.sched, "f64");
    if (this.stream) this.s.B = this.stream.B;
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    const { s, sched } = this;
    if (!this.stream) {
      this.stream = startStream(this.spec, "f64");
      s.B = this.stream.B;
      phase(this.stream, s.params.wOut, sched.initialSteps, false);
    }
    const c: Case = { ...this.spec.base, params: s.params, feedback: { kind: "sal", B: s.B }, ...trial };
    const { loss, grads } = this.grad(c);
    const traj = record ? forward(c) : undefined;
    applyTensorUpdate(this.spec.optimizer, s.optimizer, s, this.trained, grads);
    s.params.wRec.forEach((row, j) => (row[j] = 0)); // MODEL.md: no self-connections, whatever clipping did
    phase(this.stream, s.params.wOut, sched.steps, sched.restart === "phase");
    return { loss, z: traj?.z, y: traj?.y, metrics: { angleDeg: alignmentAngleDeg(s.B, s.params.wOut) } };
  }

  async state(): Promise<SalRunState> {
    const out = structuredClone(this.s);
    if (this.stream) out.sal = this.stream.snapshot();
    return out;
  }

  async close(): Promise<void> {}
}

/** precision "f32": e-prop on the wasm kernels (as a board), SAL on the float32 reference; bit-identical to a board. */
export class SalF32Target implements TrainTarget<SalRunState, Trial> {
  readonly board = "host";
  private dev!: EpropDevice;
  private stream: SalStream | null = null;
  private sal: SalVectors;
  private done: number;
  private readonly ready: Promise<void>;
  private readonly sched: SalSchedule;

  constructor(
    private readonly spec: RunSpec<Case, Trial>,
    initial: SalRunState,
  ) {
    if (spec.freeze.length) throw new InputError("freeze", "the float32 mode trains every parameter, as a board does (use precision f64 to freeze)");
    this.sched = scheduleOf(spec);
    this.done = initial.optimizer.step;
    this.sal = structuredClone(initial.sal);
    this.stream = salStreamOf(structuredClone(initial), this.sched, "f32");
    this.ready = this.open(initial);
  }

  private async open(initial: SalRunState): Promise<void> {
    const { model } = this.spec.base;
    this.dev = await EpropDevice.create(model, "sal", { build: "scalar", optimizer: this.spec.optimizer.kind });
    this.dev.loadParams(initial.params, initial.B);
    if (initial.arena !== undefined) restoreArena(this.dev, Buffer.from(initial.arena, "base64"));
  }

  async iterate(trial: Trial, record: boolean): Promise<TrialOutcome> {
    await this.ready;
    const { dev, sched } = this;
    if (!this.stream) {
      this.stream = startStream(this.spec, "f32");
      dev.writeB(this.stream.B);
      phase(this.stream, dev.readParams().wOut, sched.initialSteps, false);
      dev.writeB(this.stream.B);
    }
    const before = record ? dev.readParams() : undefined;
    const r = dev.runTrial(trial.inputs, trial.targets, trial.mask);
    const n = ++this.done;
    const o = this.spec.optimizer;
    if (o.kind === "adam") dev.applyAdam(o.lr, o.beta1, o.beta2, o.eps, n);
    else dev.applyGd(o.lr, o.wMin !== null && o.wMax !== null ? { wMin: o.wMin, wMax: o.wMax } : undefined);
    const wOut = dev.readParams().wOut;
    phase(this.stream, wOut, sched.steps, sched.restart === "phase");
    dev.writeB(this.stream.B);
    // a recorded trial is drawn by the float64 forward pass with the weights it ran with
    const traj = before ? forward({ ...this.spec.base, params: before, feedback: { kind: "sal", B: this.stream.B }, ...trial }) : undefined;
    return { loss: r.loss, z: traj?.z, y: traj?.y, metrics: { angleDeg: angleOfCos(feedbackCos(this.stream.B, wOut)) } };
  }

  async state(): Promise<SalRunState> {
    await this.ready;
    const { dev } = this;
    return {
      params: dev.readParams(),
      B: dev.readB(),
      optimizer: { step: this.done, m: {}, v: {} },
      arena: Buffer.from(arenaBytes(dev)).toString("base64"),
      sal: this.stream ? this.stream.snapshot() : structuredClone(this.sal),
    };
  }

  async close(): Promise<void> {}
}

/** The arena fields a checkpoint carries between trials that must be finite (weights, B, Adam moments). */
const FLOAT_STATE: ReadonlySet<string> = new Set(["w", "wOut", "bOut", "fb", "mW", "vW", "mOut", "vOut", "mB", "vB"]);

function arenaAt(dev: EpropDevice): { base: number; plan: ArenaPlan } {
  return { base: dev.k.call("arenaBase"), plan: dev.plan };
}

/** The kernels' arena (parameters, B, Adam moments): the f32 mode's `arena`. */
function arenaBytes(dev: EpropDevice): Uint8Array {
  const { base, plan } = arenaAt(dev);
  return new Uint8Array(dev.k.memory.buffer.slice(base, base + plan.bytes));
}

function restoreArena(dev: EpropDevice, blob: Uint8Array): void {
  const { base, plan } = arenaAt(dev);
  if (blob.length !== plan.bytes) throw new InputError("state.arena", `expected the ${plan.bytes}-byte arena of this model, got ${blob.length} bytes`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (const f of plan.fields.filter((x) => FLOAT_STATE.has(x.name))) {
    for (let o = f.offset; o < f.offset + f.bytes; o += 4) {
      if (!Number.isFinite(view.getFloat32(o, true))) throw new InputError("state.arena", `${f.name} at arena byte ${o} is NaN or infinite: the checkpoint is damaged`);
    }
  }
  new Uint8Array(dev.k.memory.buffer, base, plan.bytes).set(blob);
}
