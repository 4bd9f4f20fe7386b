// Host driver of the DECOLLE kernel in Node (`edgeprop grad --rule decolle --backend wasm`):
// the kernels' .wasm (host/device/driver.ts Kernels) with a DECOLLE arena laid out in it,
// weights packed pre-major, a trial streamed step by step, gradients read back.
import { InputError } from "../../input/errors.ts";
import { Kernels, type ExportName } from "../../device/driver.ts";
import type { Build } from "../rule.ts";
import type { DecolleGrad } from "./reference.ts";
import { DC_GLOBAL, LF, planDecolle, type DecolleDeviceOptions, type DecollePlan, type LayerField } from "./plan.ts";
import { traceGains, type DecolleCase, type DecolleModel, type LayerParams, type Readout } from "./schema.ts";

/** The kernel's exports (device/rules/decolle/kernel.ts, re-exported by device/node/entry.ts). */
type DcExport =
  | "dcShape" | "dcShapeLayer" | "dcPlan" | "dcConfigure" | "dcAttach" | "dcLayerConstants" | "dcPtr" | "dcLayerPtr"
  | "dcStride" | "dcArenaBytes" | "dcSteps" | "dcMasked" | "dcReset" | "dcStep" | "dcForward" | "dcFinish" | "dcLayerLoss"
  | "dcZeroGrad" | "dcApplyGd" | "dcApplyAdam" | "dcResetOptimizer" | "dcStepUpdate" | "reserve" | "arenaBase";

const lanesOf = (build: Build) => (build === "simd" ? 4 : 1);

/** A DECOLLE model living in one arena of a kernels instance. */
export class DecolleDevice {
  readonly plan: DecollePlan;
  readonly base: number;

  private constructor(
    readonly k: Kernels,
    readonly model: DecolleModel,
    opts: DecolleDeviceOptions,
  ) {
    this.plan = planDecolle(model, lanesOf(k.build), opts);
    const { plan } = this;
    // wasm32: the arena must fit the 4 GiB address space (the kernel's u32 offsets would wrap beyond it)
    const room = 2 ** 32 - this.call("arenaBase") - 65536;
    if (plan.bytes > room) {
      throw new InputError("model.layers", `a stack whose device state fits the wasm32 memory of ${room} bytes; it needs ${plan.bytes} bytes (${plan.synapses} synapses)`);
    }
    if (!this.call("dcShape", model.layers.length, model.nIn, model.nOut, plan.flags)) throw new Error("dcShape refused the model");
    model.layers.forEach((l, i) => this.call("dcShapeLayer", i, l.n));
    const bytes = this.call("dcPlan");
    if (bytes !== plan.bytes) throw new Error(`planner/device arena mismatch: ${plan.bytes} != ${bytes}`);
    this.base = this.call("reserve", bytes);
    if (this.base === 0) throw new InputError("model.layers", `a stack whose arena of ${bytes} bytes fits the wasm memory (memory.grow failed)`);
    this.call("dcConfigure", this.base);
    const f = Math.fround;
    model.layers.forEach((l, i) => {
      const { cQ, cP } = traceGains(model.traceScale, l);
      this.call("dcLayerConstants", i, f(l.alpha), f(l.beta), f(l.alpharp), f(l.wrp), f(cQ), f(cP), f(l.reg));
    });
  }

  static async create(model: DecolleModel, build: Build = "scalar", opts: DecolleDeviceOptions = {}): Promise<DecolleDevice> {
    return new DecolleDevice(await Kernels.load(build), model, opts);
  }

  /** Calls a kernel export (Kernels types its names for the e-prop exports; these are the DECOLLE ones). */
  call(name: DcExport, ...args: number[]): number {
    return this.k.call(name as ExportName, ...args);
  }

  /** Address of field `f` of layer l. */
  addr(l: number, f: LayerField): number {
    return this.call("dcLayerPtr", l, LF[f]);
  }

  private stride(l: number): number {
    return this.plan.layers[l]!.stride;
  }

  /** [rows][n] into the padded [rows][S] layout (G, rows = nOut), or transposed to pre-major [nPre][S] (W). */
  private pack(l: number, m: number[][], transpose: boolean): Float32Array {
    const S = this.stride(l);
    const rows = transpose ? (m[0]?.length ?? 0) : m.length;
    const out = new Float32Array(rows * S);
    m.forEach((row, r) => row.forEach((v, c) => (transpose ? (out[c * S + r] = v) : (out[r * S + c] = v))));
    return out;
  }

  private unpack(l: number, f: LayerField, rows: number): number[][] {
    const { n, nPre } = this.plan.layers[l]!;
    const S = this.stride(l);
    const a = this.k.readF32(this.addr(l, f), nPre * S);
    return Array.from({ length: n }, (_, j) => Array.from({ length: rows }, (_, p) => a[p * S + j]!));
  }

  /** Writes W, b (trained) and the fixed readouts G, bG of every layer. */
  load(params: { layers: LayerParams[] }, readouts: Readout[]): void {
    params.layers.forEach((p, l) => {
      this.k.writeF32(this.addr(l, "w"), this.pack(l, p.w, true));
      this.k.writeF32(this.addr(l, "b"), p.b);
      this.k.writeF32(this.addr(l, "G"), this.pack(l, readouts[l]!.G, false));
      this.k.writeF32(this.addr(l, "bG"), readouts[l]!.bG);
    });
  }

  readParams(): { layers: LayerParams[] } {
    return { layers: this.plan.layers.map((lp, l) => ({ w: this.unpack(l, "w", lp.nPre), b: Array.from(this.k.readF32(this.addr(l, "b"), lp.n)) })) };
  }

  readGrads(): DecolleGrad["grads"] {
    return { layers: this.plan.layers.map((lp, l) => ({ w: this.unpack(l, "gW", lp.nPre), b: Array.from(this.k.readF32(this.addr(l, "gB"), lp.n)) })) };
  }

  /** Zeroes the trial state (keeps weights and optimizer state). */
  reset(): void {
    this.call("dcReset");
  }

  /** One step: x^t, target^t, mask^t. */
  step(x: ArrayLike<number>, target: ArrayLike<number>, mask: number): void {
    this.k.writeF32(this.call("dcPtr", DC_GLOBAL.x), x);
    this.k.writeF32(this.call("dcPtr", DC_GLOBAL.target), target);
    this.call("dcStep", mask);
  }

  /** Ends the trial: loss, per-layer losses and gradients after lossReduction. */
  finish(): DecolleGrad {
    const loss = this.call("dcFinish");
    const layerLoss = this.model.layers.map((_, l) => this.call("dcLayerLoss", l));
    return { loss, layerLoss, grads: this.readGrads() };
  }

  /** This step's spikes of layer l. */
  spikes(l: number): number[] {
    return Array.from(this.k.readF32(this.addr(l, "S"), this.plan.layers[l]!.n));
  }

  /** Runs one trial (reset, T steps, finish) with the current weights. */
  runTrial(inputs: number[][], targets: number[][], mask: number[]): DecolleGrad {
    this.reset();
    inputs.forEach((x, t) => this.step(x, targets[t]!, mask[t]!));
    return this.finish();
  }

  /** The arena's bytes (a checkpoint: weights, traces, gradients, optimizer state, counters and settings). */
  checkpoint(): Uint8Array {
    return new Uint8Array(this.k.memory.buffer.slice(this.base, this.base + this.plan.bytes));
  }

  /** Puts a checkpoint back and lets the kernel take it over; false if the kernel does not accept it as its arena. */
  restore(bytes: Uint8Array): boolean {
    if (bytes.length !== this.plan.bytes) return false;
    new Uint8Array(this.k.memory.buffer, this.base, bytes.length).set(bytes);
    return this.call("dcAttach", this.base) === this.plan.bytes;
  }
}

/** `edgeprop grad --rule decolle --backend wasm`: a case through the float32 kernel. */
export async function decolleWasm(c: DecolleCase, build: Build = "scalar"): Promise<DecolleGrad> {
  const dev = await DecolleDevice.create(c.model, build);
  dev.load(c.params, c.readouts);
  return dev.runTrial(c.inputs, c.targets, c.mask);
}
