// Host-side driver of the device kernels in Node: instantiates <state>/build/device/{scalar,simd}.wasm,
// lays out the arena for a model, loads weights, streams a trial step by step and reads the
// gradients back. Every interaction goes through `write` (bytes into linear memory) and `call`
// (an exported function), so a run can be recorded and replayed bit for bit by the native
// wasm2c build (host/device/native.ts).
import { readFileSync } from "node:fs";
import { InputError } from "../input/errors.ts";
import { decays, targetRatePerStep } from "../model/decay.ts";
import type { Case, FeedbackKind, GradResult, Grads, Matrix, ModelConfig, Params } from "../model/types.ts";
import { ensureWasm } from "./build.ts";
import { checkBudget, FIELD_ID, FLAG, lanesOf, modelFlags, planArena, planModel, type ArenaPlan, type Build, type DeviceOptions, type FieldName } from "./planner.ts";

type Ty = "i32" | "f32" | "f64";
interface Sig {
  params: Ty[];
  result: Ty | null;
}

/** Exports the driver calls, with their wasm signatures (the native replay harness is generated from this). */
export const SIGNATURES = {
  configure: { params: ["i32", "i32", "i32", "i32"], result: "i32" },
  arenaBase: { params: [], result: "i32" },
  epConstants: { params: ["f32", "f32", "f32", "f32", "f32", "f32", "f32", "i32", "f32", "f32"], result: null },
  epInjectL: { params: ["i32"], result: null },
  epReset: { params: [], result: null },
  epForward: { params: ["f32"], result: null },
  epLearn: { params: [], result: null },
  epStep: { params: ["f32"], result: null },
  epFinish: { params: [], result: "f64" },
  epApplyGd: { params: ["f32", "i32", "f32", "f32"], result: null },
  epApplyAdam: { params: ["f32", "f32", "f32", "f32", "i32"], result: null },
  epResetOptimizer: { params: [], result: null },
  epPtr: { params: ["i32"], result: "i32" },
  epStride: { params: [], result: "i32" },
  epArenaBytes: { params: [], result: "i32" },
  salConstants: { params: ["f32", "f32", "f32", "f32", "f32", "f32", "f32", "f32", "f32", "f32"], result: null },
  salInit: { params: [], result: null },
  salStep: { params: [], result: null },
  salRun: { params: ["i32"], result: null },
  salSteps: { params: [], result: "i32" },
  salLowerSpikes: { params: [], result: "i32" },
  salUpperSpikes: { params: [], result: "i32" },
  pcgSeed: { params: ["i32", "i32", "i32", "i32"], result: null },
  pcgNext: { params: [], result: "i32" },
} as const satisfies Record<string, Sig>;
export type ExportName = keyof typeof SIGNATURES;

export type ScriptOp =
  | { op: "write"; ptr: number; bytes: Uint8Array }
  | { op: "call"; name: ExportName; args: number[]; result: number | null };

const modules = new Map<Build, Promise<WebAssembly.Module>>();

async function moduleFor(build: Build): Promise<WebAssembly.Module> {
  let m = modules.get(build);
  if (!m) {
    m = ensureWasm(build).then((path) => WebAssembly.compile(readFileSync(path)));
    modules.set(build, m);
  }
  return m;
}

/** One instance of the kernels' wasm with recording of every write and call. */
export class Kernels {
  /** Set to an array to record the interaction (for native replay). */
  script: ScriptOp[] | null = null;

  private constructor(
    readonly build: Build,
    private readonly instance: WebAssembly.Instance,
  ) {}

  static async load(build: Build): Promise<Kernels> {
    const mod = await moduleFor(build);
    const instance = await WebAssembly.instantiate(mod, {
      env: {
        abort: (_m: number, _f: number, line: number, col: number) => {
          throw new Error(`device kernel abort at ${line}:${col}`);
        },
      },
    });
    return new Kernels(build, instance);
  }

  /** The raw export (benchmarks, and rule drivers whose exports SIGNATURES does not list, call it directly; not recorded). */
  raw<F extends (...a: never[]) => unknown>(name: ExportName | (string & {})): F {
    return this.instance.exports[name] as unknown as F;
  }

  get memory(): WebAssembly.Memory {
    return this.instance.exports.memory as WebAssembly.Memory;
  }

  call(name: ExportName, ...args: number[]): number {
    const fn = this.instance.exports[name] as (...a: number[]) => number | undefined;
    const r = fn(...args);
    const result = r === undefined ? null : Number(r);
    if (this.script) this.script.push({ op: "call", name, args, result });
    return result ?? 0;
  }

  writeF32(ptr: number, data: ArrayLike<number>): void {
    const view = new Float32Array(this.memory.buffer, ptr, data.length);
    view.set(data);
    if (this.script) this.script.push({ op: "write", ptr, bytes: new Uint8Array(this.memory.buffer.slice(ptr, ptr + 4 * data.length)) });
  }

  readF32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer.slice(ptr, ptr + 4 * n));
  }

  /** A copy of the whole linear memory. */
  snapshot(): Uint8Array {
    return new Uint8Array(this.memory.buffer.slice(0));
  }
}

export interface TrialOptions {
  /** Learning signal injected per neuron by the host, L[t][j] = sum_k B[j][k] err_k^t, without the lossReduction divisor (the device applies it at epFinish). */
  injectL?: Matrix;
  /** Record the spike train z[t][j]. */
  recordSpikes?: boolean;
}

export interface TrialResult extends GradResult {
  spikes?: number[][];
}

/** An e-prop model living in one device arena. */
export class EpropDevice {
  readonly plan: ArenaPlan;
  private readonly ptr: Record<FieldName, number>;

  private constructor(
    readonly k: Kernels,
    readonly model: ModelConfig,
    readonly feedback: FeedbackKind,
    readonly flags: number,
  ) {
    this.plan = planModel(model, feedback, { build: k.build, optimizer: flags & FLAG.ADAM ? "adam" : "gd", sal: (flags & FLAG.SAL) !== 0 });
    this.ptr = Object.fromEntries(Object.entries(FIELD_ID).map(([n, id]) => [n, k.call("epPtr", id)])) as Record<FieldName, number>;
  }

  /** Instantiates the kernels and configures the arena for `model`. */
  static async create(model: ModelConfig, feedback: FeedbackKind, opts: DeviceOptions & { record?: boolean } = {}): Promise<EpropDevice> {
    const k = await Kernels.load(opts.build ?? "scalar");
    if (opts.record) k.script = [];
    return EpropDevice.on(k, model, feedback, opts);
  }

  static on(k: Kernels, model: ModelConfig, feedback: FeedbackKind, opts: DeviceOptions = {}): EpropDevice {
    const flags = modelFlags(model, feedback, opts);
    // wasm32: the arena must fit the 4 GiB address space (the device's u32 layout would wrap beyond it)
    checkBudget(planArena(model, flags, lanesOf(k.build)), 2 ** 32 - k.call("arenaBase") - 65536, "wasm32 memory (4 GiB)");
    const bytes = k.call("configure", model.nIn, model.nRec, model.nOut, flags);
    if (bytes === 0) throw new InputError("model", "a model whose arena fits the wasm memory (memory.grow failed)");
    const d = decays(model);
    const f = Math.fround;
    k.call("epConstants", f(d.alpha), f(d.rho), f(d.kappa), f(d.zeta), f(d.s), f(model.vTh), f(model.gamma), model.refractory,
      f(model.rateReg?.cReg ?? 0), f(targetRatePerStep(model)));
    const dev = new EpropDevice(k, model, feedback, flags);
    if (dev.plan.bytes !== bytes) throw new Error(`planner/device arena mismatch: ${dev.plan.bytes} != ${bytes}`);
    if (flags & FLAG.ALIF) dev.writeVector("beta", model.beta);
    return dev;
  }

  get stride(): number {
    return this.plan.stride;
  }

  addr(f: FieldName): number {
    return this.ptr[f];
  }

  private writeVector(f: FieldName, xs: ArrayLike<number>): void {
    this.k.writeF32(this.ptr[f], xs);
  }

  /** Packs a [rows][nRec] matrix into the padded [rows][S] layout. */
  private packRows(rows: Matrix): Float32Array {
    const S = this.stride;
    const out = new Float32Array(rows.length * S);
    rows.forEach((r, i) => out.set(r, i * S));
    return out;
  }

  /** Loads wIn, wRec (diagonal forced to 0), wOut, bOut and, for non-symmetric feedback, B [nRec][nOut]. */
  loadParams(p: Params, B?: Matrix): void {
    const { nIn, nRec } = this.model;
    const S = this.stride;
    const w = new Float32Array((nIn + nRec) * S);
    for (let j = 0; j < nRec; j++) {
      for (let i = 0; i < nIn; i++) w[i * S + j] = p.wIn[j]![i]!;
      for (let i = 0; i < nRec; i++) if (i !== j) w[(nIn + i) * S + j] = p.wRec[j]![i]!;
    }
    this.k.writeF32(this.ptr.w, w);
    this.k.writeF32(this.ptr.wOut, this.packRows(p.wOut));
    this.writeVector("bOut", p.bOut);
    if (this.flags & FLAG.SEPB) {
      if (!B) throw new Error("feedback matrix B required for non-symmetric feedback");
      this.writeB(B);
    }
  }

  writeB(B: Matrix): void {
    const { nRec, nOut } = this.model;
    const S = this.stride;
    const bt = new Float32Array(nOut * S);
    for (let j = 0; j < nRec; j++) for (let k = 0; k < nOut; k++) bt[k * S + j] = B[j]![k]!;
    this.k.writeF32(this.ptr.fb, bt);
  }

  readB(): Matrix {
    const { nRec, nOut } = this.model;
    const S = this.stride;
    const bt = this.k.readF32(this.ptr.fb, nOut * S);
    return Array.from({ length: nRec }, (_, j) => Array.from({ length: nOut }, (_, k) => bt[k * S + j]!));
  }

  readParams(): Params {
    const { nIn, nRec, nOut } = this.model;
    const S = this.stride;
    const w = this.k.readF32(this.ptr.w, (nIn + nRec) * S);
    const wOut = this.k.readF32(this.ptr.wOut, nOut * S);
    return {
      wIn: Array.from({ length: nRec }, (_, j) => Array.from({ length: nIn }, (_, i) => w[i * S + j]!)),
      wRec: Array.from({ length: nRec }, (_, j) => Array.from({ length: nRec }, (_, i) => w[(nIn + i) * S + j]!)),
      wOut: Array.from({ length: nOut }, (_, k) => Array.from(wOut.subarray(k * S, k * S + nRec))),
      bOut: Array.from(this.k.readF32(this.ptr.bOut, nOut)),
    };
  }

  /** Runs one trial (reset, T steps, finish) with the current weights; returns loss and gradients. */
  runTrial(inputs: Matrix, targets: Matrix, mask: number[], opts: TrialOptions = {}): TrialResult {
    const { k } = this;
    const { nRec } = this.model;
    const inject = opts.injectL !== undefined;
    k.call("epInjectL", inject ? 1 : 0);
    k.call("epReset");
    const spikes: number[][] | undefined = opts.recordSpikes ? [] : undefined;
    for (let t = 0; t < inputs.length; t++) {
      k.writeF32(this.ptr.act, inputs[t]!);
      k.writeF32(this.ptr.target, targets[t]!);
      if (inject) {
        k.call("epForward", mask[t]!);
        k.writeF32(this.ptr.L, opts.injectL![t]!);
        k.call("epLearn");
      } else {
        k.call("epStep", mask[t]!);
      }
      if (spikes) spikes.push(Array.from(k.readF32(this.ptr.z, nRec)));
    }
    const loss = k.call("epFinish");
    const r: TrialResult = { loss, grads: this.readGrads() };
    if (spikes) r.spikes = spikes;
    return r;
  }

  readGrads(): Grads {
    const { nIn, nRec, nOut } = this.model;
    const S = this.stride;
    const g = this.k.readF32(this.ptr.g, (nIn + nRec) * S);
    const gOut = this.k.readF32(this.ptr.gOut, nOut * S);
    return {
      wIn: Array.from({ length: nRec }, (_, j) => Array.from({ length: nIn }, (_, i) => g[i * S + j]!)),
      wRec: Array.from({ length: nRec }, (_, j) => Array.from({ length: nRec }, (_, i) => g[(nIn + i) * S + j]!)),
      wOut: Array.from({ length: nOut }, (_, k) => Array.from(gOut.subarray(k * S, k * S + nRec))),
      bOut: Array.from(this.k.readF32(this.ptr.gB, nOut)),
    };
  }

  applyGd(lr: number, clip?: { wMin: number; wMax: number }): void {
    this.k.call("epApplyGd", lr, clip ? 1 : 0, clip?.wMin ?? 0, clip?.wMax ?? 0);
  }

  /** Zeroes the Adam moments (a new training run). */
  resetOptimizer(): void {
    this.k.call("epResetOptimizer");
  }

  /** Adam at its n-th step (n >= 1). Needs `optimizer: "adam"` at creation. */
  applyAdam(lr: number, b1: number, b2: number, eps: number, n: number): void {
    if (!(this.flags & FLAG.ADAM)) throw new Error("device configured without Adam state");
    this.k.call("epApplyAdam", lr, b1, b2, eps, n);
  }
}

/** Runs a hil-case/1 through the device kernels: e-prop loss and gradients. */
export async function deviceGrad(c: Case, build: Build = "scalar", opts: TrialOptions & { record?: boolean } = {}): Promise<TrialResult & { device: EpropDevice }> {
  const dev = await EpropDevice.create(c.model, c.feedback.kind, { build, record: opts.record });
  dev.loadParams(c.params, c.feedback.B);
  const r = dev.runTrial(c.inputs, c.targets, c.mask, opts);
  return { ...r, device: dev };
}

export { lanesOf };
