// Host driver of the OSTL kernel in Node (`edgeprop grad --rule ostl --backend wasm`): lays out
// the arena for a stack, loads the weights, streams a trial step by step and reads the gradients
// back, through the same `Kernels` instance the e-prop driver uses.
import { InputError } from "../../input/errors.ts";
import { Kernels, type ExportName } from "../../device/driver.ts";
import type { Matrix } from "../../model/types.ts";
import type { Build } from "../rule.ts";
import type { OstlResult } from "./reference.ts";
import type { OstlGrads, OstlModel, OstlParams, OstlCase } from "./schema.ts";
import { fieldId, OSTL_FLAG, ostlFlags, planOstl, stackDims, type OstlDeviceOptions, type OstlField, type OstlPlan } from "./layout.ts";

/** The OSTL exports of the kernels' .wasm (device/rules/ostl/kernel.ts) and the Node entry's `reserve`. */
type OstlExport =
  | "reserve" | "osBegin" | "osLayer" | "osPlan" | "osConfigure" | "osConstants" | "osReadout" | "osPtr" | "osReset"
  | "osStep" | "osFinish" | "osApplyGd" | "osApplyAdam" | "osValidate" | "osArenaBytes" | "osBase" | "osAttach";

export interface OstlTrialResult extends OstlResult {
  /** z[l][t][j], when recorded */
  spikes?: number[][][];
}

/** A layer stack living in one device arena. */
export class OstlDevice {
  private constructor(
    readonly k: Kernels,
    readonly model: OstlModel,
    readonly plan: OstlPlan,
  ) {}

  /** Instantiates the kernels and configures the arena for `model`. */
  static async create(model: OstlModel, opts: OstlDeviceOptions = {}): Promise<OstlDevice> {
    return OstlDevice.on(await Kernels.load(opts.build ?? "scalar"), model, opts);
  }

  static on(k: Kernels, m: OstlModel, opts: OstlDeviceOptions = {}): OstlDevice {
    const plan = planOstl(stackDims(m), ostlFlags(m, opts), k.build === "simd" ? 4 : 1);
    // wasm32: the arena must fit the 4 GiB address space
    const limit = 2 ** 32 - 2 ** 20;
    if (plan.bytes > limit) {
      throw new InputError("model.layers", `a stack whose device state fits the wasm32 memory (${limit} bytes); it needs ${plan.bytes} bytes (${plan.bytesPerSynapse.toFixed(2)} bytes/synapse)`);
    }
    const dev = new OstlDevice(k, m, plan);
    if (!dev.call("osBegin", m.nIn, m.nOut, m.layers.length, plan.flags)) throw new Error("osBegin refused the model");
    m.layers.forEach((l, i) => {
      if (!dev.call("osLayer", i, l.n, plan.dims.layers[i]!.alif ? OSTL_FLAG.ALIF : 0)) throw new Error(`osLayer refused layer ${i}`);
    });
    if (dev.call("osPlan") !== plan.bytes) throw new Error(`OSTL planner/device arena mismatch: ${plan.bytes} != ${dev.call("osPlan")}`);
    const base = dev.call("reserve", plan.bytes);
    if (base === 0) throw new InputError("model.layers", "a stack whose arena fits the wasm memory (memory.grow failed)");
    dev.call("osConfigure", base);
    const f = Math.fround;
    m.layers.forEach((l, i) => {
      dev.call("osConstants", i, f(Math.exp(-m.dt / l.tauMem)), f(Math.exp(-m.dt / l.tauAdapt)), f(l.vTh), f(l.gamma));
      if (plan.dims.layers[i]!.alif) k.writeF32(dev.addr("beta", i), l.beta);
    });
    dev.call("osReadout", f(Math.exp(-m.dt / m.tauOut)));
    return dev;
  }

  /**
   * Adopts a checkpoint (an arena's bytes, see arena()) in the kernels `k`: the header must be
   * an OSTL arena of this build for `m`, and every value sound (osValidate), else InputError.
   */
  static restore(k: Kernels, m: OstlModel, blob: Uint8Array, opts: OstlDeviceOptions = {}): OstlDevice {
    const plan = planOstl(stackDims(m), ostlFlags(m, opts), k.build === "simd" ? 4 : 1);
    if (blob.length !== plan.bytes) throw new InputError("checkpoint", `an OSTL arena of ${plan.bytes} bytes for this model and build, got ${blob.length}`);
    const dev = new OstlDevice(k, m, plan);
    const base = dev.call("reserve", blob.length);
    if (base === 0) throw new InputError("checkpoint", "an arena that fits the wasm memory (memory.grow failed)");
    new Uint8Array(k.memory.buffer, base, blob.length).set(blob);
    if (dev.call("osAttach", base) !== blob.length) throw new InputError("checkpoint", "an OSTL arena of this model and build (header refused)");
    const bad = dev.validate();
    if (bad >= 0) throw new InputError("checkpoint", `finite values, vTh > 0, Adam v >= 0 (bad value at byte ${bad})`);
    return dev;
  }

  /** Calls a kernel export. Kernels.call's typed list holds the e-prop exports its native replay records; these run unrecorded. */
  call(name: OstlExport, ...args: number[]): number {
    const r = this.k.raw<(...a: number[]) => number | bigint | undefined>(name as unknown as ExportName)(...args);
    return r === undefined ? 0 : Number(r);
  }

  addr(f: OstlField, layer = 0): number {
    return this.call("osPtr", fieldId(f), layer);
  }

  private stride(l: number): number {
    return this.plan.strides[l]!;
  }

  /** Loads every layer's [W | b] (pre-major, bias as the last row), wOut and bOut. */
  loadParams(p: OstlParams): void {
    p.layers.forEach((lp, l) => {
      const S = this.stride(l);
      const P = lp.w[0]!.length + 1;
      const buf = new Float32Array(P * S);
      lp.w.forEach((row, j) => {
        row.forEach((x, i) => (buf[i * S + j] = x));
        buf[(P - 1) * S + j] = lp.b[j]!;
      });
      this.k.writeF32(this.addr("w", l), buf);
    });
    const S = this.stride(p.layers.length - 1);
    const wOut = new Float32Array(this.model.nOut * S);
    p.wOut.forEach((row, o) => wOut.set(row, o * S));
    this.k.writeF32(this.addr("wOut"), wOut);
    this.k.writeF32(this.addr("bOut"), p.bOut);
  }

  /** Runs one trial (reset, T steps, finish) with the current weights. */
  runTrial(inputs: Matrix, targets: Matrix, mask: number[], opts: { recordSpikes?: boolean } = {}): OstlTrialResult {
    const L = this.model.layers.length;
    this.call("osReset");
    const act = this.addr("act", 0);
    const target = this.addr("target");
    const z = this.model.layers.map((_, l) => this.addr("z", l));
    const spikes: number[][][] | undefined = opts.recordSpikes ? this.model.layers.map(() => []) : undefined;
    inputs.forEach((x, t) => {
      this.k.writeF32(act, x);
      this.k.writeF32(target, targets[t]!);
      this.call("osStep", mask[t]!);
      if (spikes) for (let l = 0; l < L; l++) spikes[l]!.push(Array.from(this.k.readF32(z[l]!, this.model.layers[l]!.n)));
    });
    const loss = this.call("osFinish");
    const r: OstlTrialResult = { loss, grads: this.readGrads() };
    if (spikes) r.spikes = spikes;
    return r;
  }

  /** The accumulated gradients in the case's layout. */
  readGrads(): OstlGrads {
    return this.unpack("g", "gOut", "gB");
  }

  /** The current parameters in the case's layout. */
  readParams(): OstlParams {
    return this.unpack("w", "wOut", "bOut");
  }

  /** Layer matrices [P][S] (bias as the last row), readout [nOut][S] and a vector, into the case's layout. */
  private unpack(layer: "w" | "g", out: "wOut" | "gOut", bias: "bOut" | "gB"): OstlParams {
    const m = this.model;
    const layers = m.layers.map((lm, l) => {
      const S = this.stride(l);
      const nPrev = l === 0 ? m.nIn : m.layers[l - 1]!.n;
      const x = this.k.readF32(this.addr(layer, l), (nPrev + 1) * S);
      return {
        w: Array.from({ length: lm.n }, (_, j) => Array.from({ length: nPrev }, (_, i) => x[i * S + j]!)),
        b: Array.from({ length: lm.n }, (_, j) => x[nPrev * S + j]!),
      };
    });
    const S = this.stride(m.layers.length - 1);
    const nTop = m.layers[m.layers.length - 1]!.n;
    const o = this.k.readF32(this.addr(out), m.nOut * S);
    return {
      layers,
      wOut: Array.from({ length: m.nOut }, (_, k) => Array.from(o.subarray(k * S, k * S + nTop))),
      bOut: Array.from(this.k.readF32(this.addr(bias), m.nOut)),
    };
  }

  /** gd on every parameter (MODEL.md training loop), optionally clipped to [wMin, wMax]. */
  applyGd(lr: number, clip?: { wMin: number; wMax: number }): void {
    this.call("osApplyGd", lr, clip ? 1 : 0, clip?.wMin ?? 0, clip?.wMax ?? 0);
  }

  /** Adam at its n-th step (n >= 1); needs `optimizer: "adam"` at creation. */
  applyAdam(lr: number, b1: number, b2: number, eps: number, n: number): void {
    if (!this.call("osApplyAdam", lr, b1, b2, eps, n)) throw new Error("OSTL arena configured without Adam state");
  }

  /** The whole arena (header, parameters, state, traces, gradients, optimizer): what a CHECKPOINT carries. */
  arena(): Uint8Array {
    const base = this.call("osBase");
    return new Uint8Array(this.k.memory.buffer.slice(base, base + this.call("osArenaBytes")));
  }

  /** -1 if the arena is sound (finite, vTh > 0, Adam v >= 0), else the byte offset of the first bad value. */
  validate(): number {
    return this.call("osValidate");
  }
}

/** OSTL's loss and gradients for a stack case on the float32 kernels in Node. */
export async function ostlWasmGrad(c: OstlCase, build: Build = "scalar", opts: { recordSpikes?: boolean } = {}): Promise<OstlTrialResult> {
  const dev = await OstlDevice.create(c.model, { build });
  dev.loadParams(c.params);
  return dev.runTrial(c.inputs, c.targets, c.mask, opts);
}
