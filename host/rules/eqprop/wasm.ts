// Host driver of the float32 EqProp kernel (device/rules/eqprop/kernel.ts) in Node: configures
// one arena in the kernels' wasm (build/device/{scalar,simd}.wasm), loads W and b into its
// padded layout, streams samples and reads gradients back. `grad --rule eqprop --backend wasm`
// and float32 training both go through EqpropDevice.
import { InputError } from "../../input/errors.ts";
import { Kernels } from "../../device/driver.ts";
import type { Build } from "../rule.ts";
import { eqpropArena, FIELDS, FLAG_SYMMETRIC, type EqpropArena, type Field } from "./layout.ts";
import { scaleGrads, type EqpropGradOutput, type Residuals, type Settings } from "./reference.ts";
import type { EqpropCase, EqpropParams, Nudge } from "./schema.ts";
import type { BatchOutcome } from "./train.ts";

type Fn = (...a: number[]) => number;

export interface SampleOutcome {
  prediction: number;
  /** C(s0), float64 sum of the float32 errors. */
  loss: number;
}

/** An EqProp network living in one kernel arena. */
export class EqpropDevice {
  private readonly fn: (name: string) => Fn;
  private readonly field: (f: Field, layer?: number) => number;

  private constructor(
    readonly k: Kernels,
    readonly layers: readonly number[],
    readonly nudge: Nudge,
    readonly arena: EqpropArena,
  ) {
    this.fn = (name) => k.raw<Fn>(name);
    const eqPtr = this.fn("eqPtr");
    this.field = (f, layer = 0) => eqPtr(FIELDS.indexOf(f), layer);
  }

  /** Instantiates the kernels and configures the arena (zero weights, zero learning rates). */
  static async create(layers: readonly number[], nudge: Nudge, build: Build = "scalar"): Promise<EqpropDevice> {
    const k = await Kernels.load(build);
    const L = layers.length - 1;
    const flags = nudge === "symmetric" ? FLAG_SYMMETRIC : 0;
    const arena = eqpropArena(layers, nudge === "symmetric");
    layers.forEach((n, i) => k.raw<Fn>("eqSetSize")(i, n));
    const bytes = k.raw<Fn>("eqPlan")(L, flags);
    if (bytes !== arena.bytes) throw new Error(`EqProp arena: device plans ${bytes} bytes, host layout ${arena.bytes}`);
    const base = k.raw<Fn>("reserve")(bytes);
    if (base === 0) throw new InputError("model.layers", `a model whose EqProp arena (${bytes} bytes) fits the wasm memory (memory.grow failed)`);
    if (k.raw<Fn>("eqConfigure")(base, L, flags) !== bytes) throw new Error("EqProp arena: eqConfigure disagrees with eqPlan");
    return new EqpropDevice(k, layers, nudge, arena);
  }

  /** beta, epsilon and the step counts (float32 on the device). */
  setConstants(m: Settings): void {
    if (m.nudge !== this.nudge) throw new Error(`device configured for ${this.nudge} nudging, asked for ${m.nudge}`);
    this.fn("eqConstants")(m.beta, m.epsilon, m.freeSteps, m.nudgedSteps);
  }

  /** The arena's base address (a checkpoint is eqArenaBytes() bytes from here). */
  get base(): number {
    return this.fn("eqBase")();
  }

  /** Writes [rows][n] matrices (or one vector as a single row) into the padded [rows][stride] layout. */
  private writeRows(ptr: number, rows: readonly (readonly number[])[], stride: number): void {
    const buf = new Float32Array(rows.length * stride);
    rows.forEach((r, i) => buf.set(r, i * stride));
    this.k.writeF32(ptr, buf);
  }

  private readRows(ptr: number, rows: number, n: number, stride: number): number[][] {
    const buf = this.k.readF32(ptr, rows * stride);
    return Array.from({ length: rows }, (_, i) => Array.from(buf.subarray(i * stride, i * stride + n)));
  }

  private readPair(w: Field, b: Field): EqpropParams {
    const L = this.layers.length - 1;
    const { layers, arena } = this;
    return {
      W: Array.from({ length: L }, (_, l) => this.readRows(this.field(w, l), layers[l + 1]!, layers[l]!, arena.stride(l))),
      b: Array.from({ length: L }, (_, l) => this.readRows(this.field(b, l), 1, layers[l + 1]!, arena.stride(l + 1))[0]!),
    };
  }

  writeParams(p: EqpropParams): void {
    p.W.forEach((w, l) => this.writeRows(this.field("W", l), w, this.arena.stride(l)));
    p.b.forEach((v, l) => this.writeRows(this.field("B", l), [v], this.arena.stride(l + 1)));
  }

  readParams(): EqpropParams {
    return this.readPair("W", "B");
  }

  /** The gradient sums since the last clear() or apply(). */
  readGrads(): EqpropParams {
    return this.readPair("GW", "GB");
  }

  private load(x: readonly number[], y: readonly number[]): void {
    this.k.writeF32(this.field("X"), x);
    this.k.writeF32(this.field("Y"), y);
  }

  /** Free, nudged (and -beta) phases of one sample; its estimate joins the gradient sums. */
  sample(x: readonly number[], y: readonly number[], residual = false): SampleOutcome {
    this.load(x, y);
    const prediction = this.fn("eqSample")(residual ? 1 : 0);
    return { prediction, loss: this.fn("eqLoss")() };
  }

  /** The free phase only (evaluation). */
  free(x: readonly number[], y: readonly number[]): SampleOutcome {
    this.load(x, y);
    const prediction = this.fn("eqFree")(0);
    return { prediction, loss: this.fn("eqLoss")() };
  }

  /** Largest float32 residual of each phase over the samples run with `residual` since the last clear. */
  residuals(): Residuals {
    const r = this.fn("eqResidual");
    const free = r(0);
    const nudged = r(1);
    return this.nudge === "symmetric" ? { free, nudged, nudgedMinus: r(2) } : { free, nudged };
  }

  clear(): void {
    this.fn("eqClear")();
  }

  /** W[l] -= rate[l] GW[l], b[l] -= rate[l] GB[l] (one rate per layer pair, float32), then clear. */
  apply(rate: readonly number[]): void {
    this.k.writeF32(this.field("LR"), rate);
    this.fn("eqApply")();
  }

  /** One training iteration on the device, as train.ts's trainIteration: every sample, then W[l] -= lr[l] * batch mean. */
  iteration(xs: readonly number[][], ys: readonly number[][], lr: readonly number[]): BatchOutcome {
    this.clear();
    let loss = 0;
    const predictions = xs.map((x, n) => {
      const s = this.sample(x, ys[n]!);
      loss += s.loss;
      return s.prediction;
    });
    this.apply(lr.map((r) => r / xs.length));
    return { loss, predictions };
  }

  /** The free phase of every sample (evaluation), as train.ts's evaluate. */
  evaluate(xs: readonly number[][], ys: readonly number[][]): BatchOutcome {
    let loss = 0;
    const predictions = xs.map((x, n) => {
      const s = this.free(x, ys[n]!);
      loss += s.loss;
      return s.prediction;
    });
    return { loss, predictions };
  }
}

/** `edgeprop grad CASE --rule eqprop --backend wasm`: the case through the float32 kernel. */
export async function eqpropWasm(c: EqpropCase, build: Build): Promise<EqpropGradOutput> {
  const dev = await EqpropDevice.create(c.model.layers, c.model.nudge, build);
  dev.setConstants(c.model);
  dev.writeParams(c.params);
  let loss = 0;
  c.inputs.forEach((x, n) => (loss += dev.sample(x, c.targets[n]!, true).loss));
  const grads = dev.readGrads();
  if (c.model.lossReduction === "mean") {
    loss /= c.inputs.length;
    scaleGrads(grads, 1 / c.inputs.length);
  }
  return { loss, grads, residual: dev.residuals() };
}
