// Typed protocol client over a Session: the model messages of PROTOCOL.md with chunking to the
// negotiated frame size. Backends (`grad --backend sim`), training sessions and benchmarks use
// this; it holds no training logic (that is host/train/). The typed model messages are e-prop's
// (the default rule); other rules' modules speak theirs with request(), after helloFor() has
// checked that the firmware carries them, and CONFIGURE with their `rule`.
import { InputError } from "../input/errors.ts";
import { decays } from "../model/decay.ts";
import type { FeedbackKind, Grads, Matrix, ModelConfig, Params } from "../model/types.ts";
import {
  CheckpointOp, MsgType, ParamId, ResetWhat, bitRowBytes, f32le, fromF32le, fromU16le, packBits, unpackBits,
} from "../../protocol/messages.ts";
import type { Body, HelloInfo } from "../../protocol/messages.ts";
import type { Session } from "./session.ts";

export interface ConfigureOptions {
  optimizer?: "gd" | "adam";
}

export interface TrialRunOptions {
  /** Host-injected learning signals L[t][j] (replaces B·err on the device). */
  injectL?: Matrix;
  /** Return y[t][k]. */
  outputs?: boolean;
  /** Return spikes z[t][j] and the per-neuron counts. */
  spikes?: boolean;
  /** Accumulate gradients (default: true). */
  learn?: boolean;
  /** Add this trial's gradients to those accumulated (e-prop mini-batches: RESET 1 first instead of `rs`). */
  keepGrads?: boolean;
  /** Max steps per RUN frame (default: as many as fit). */
  maxStepsPerFrame?: number;
  /** Per-attempt timeout of each RUN frame (default: the session's). */
  timeoutMs?: number;
}

export interface TrialRun {
  loss: number;
  y?: number[][];
  z?: number[][];
  spikeCounts?: number[];
  frames: number;
}

export interface ApplyOptions {
  optimizer: "gd" | "adam";
  lr: number;
  b1?: number;
  b2?: number;
  eps?: number;
  wMin?: number;
  wMax?: number;
  /** Adam step index n (default: the device counts). */
  step?: number;
  /** Divide the accumulated gradients by this first (e-prop mini-batches, "mean": B). */
  div?: number;
}

/** Bytes of MessagePack map/keys overhead reserved per RUN frame. */
const RUN_OVERHEAD = 64;

export class DeviceClient {
  model: ModelConfig | null = null;
  feedback: FeedbackKind = "symmetric";
  /** Payload bytes (bin fields) sent / received: the numerator of link efficiency. */
  payloadOut = 0;
  payloadIn = 0;

  constructor(readonly session: Session) {}

  /** One request (payload bytes counted); the typed methods below are built on it. */
  async request(type: number, body: Body, timeoutMs?: number): Promise<Body> {
    for (const v of Object.values(body)) if (v instanceof Uint8Array) this.payloadOut += v.length;
    const r = await this.session.request(type, body, { timeoutMs });
    for (const v of Object.values(r)) if (v instanceof Uint8Array) this.payloadIn += v.length;
    return r;
  }

  /** The rules the firmware listed at the last HELLO (undefined: firmware from before the rule seam, e-prop only). */
  rules: string[] | undefined;

  async hello(): Promise<HelloInfo> {
    const h = await this.session.connect();
    this.rules = h.rules;
    return h;
  }

  /**
   * HELLO, then the check that the board's firmware carries `rule`: an InputError (on `field`)
   * naming the rule, the board and the rules its firmware carries otherwise.
   */
  async helloFor(rule: string, field = "--rule"): Promise<HelloInfo> {
    const h = await this.hello();
    const carried = h.rules ?? ["eprop"]; // firmware from before the rule seam carried e-prop only
    if (!carried.includes(rule)) {
      throw new InputError(
        field,
        `board '${h.board}' runs firmware without rule '${rule}' (it carries ${carried.length ? carried.join(", ") : "no rule"}); ` +
          `build and flash firmware that carries it (boards/*.json "rules")`,
      );
    }
    return h;
  }

  async configure(m: ModelConfig, feedback: FeedbackKind, opts: ConfigureOptions = {}): Promise<{ bytes: number; ram: number }> {
    const d = decays(m);
    const body: Body = {
      nIn: m.nIn, nRec: m.nRec, nOut: m.nOut, neuron: m.neuron, dt: m.dt, tauMem: m.tauMem, tauOut: m.tauOut,
      tauAdapt: m.tauAdapt, vTh: m.vTh, gamma: m.gamma, refractory: m.refractory, loss: m.loss,
      inputScale: m.inputScale, readoutScale: m.readoutScale, trainBias: m.trainBias, rateReg: m.rateReg,
      lossReduction: m.lossReduction, feedback, optimizer: opts.optimizer ?? "gd",
      alpha: d.alpha, rho: d.rho, kappa: d.kappa,
    };
    if (m.beta.some((b) => b !== 0)) body.beta = f32le(m.beta);
    const r = await this.request(MsgType.CONFIGURE, body);
    this.model = m;
    this.feedback = feedback;
    return { bytes: r.bytes as number, ram: r.ram as number };
  }

  private need(): ModelConfig {
    if (!this.model) throw new Error("configure() the device first");
    return this.model;
  }

  /** Elements per WRITE/READ chunk under the negotiated frame size. */
  private get chunk(): number {
    return Math.max(1, Math.floor((this.session.maxBody - 40) / 4));
  }

  async writeArray(p: number, data: ArrayLike<number>): Promise<void> {
    const f = Float32Array.from(data as ArrayLike<number>);
    for (let o = 0; o < f.length; o += this.chunk) {
      await this.request(MsgType.WRITE, { p, o, d: f32le(f.subarray(o, o + this.chunk)) });
    }
  }

  async readArray(p: number, count: number, type: number = MsgType.READ): Promise<Float32Array> {
    const out = new Float32Array(count);
    for (let o = 0; o < count; o += this.chunk) {
      const r = await this.request(type, { p, o, n: Math.min(this.chunk, count - o) });
      out.set(fromF32le(r.d as Uint8Array), o);
    }
    return out;
  }

  async writeParams(params: Params, B?: Matrix): Promise<void> {
    this.need();
    await this.writeArray(ParamId.wIn, params.wIn.flat());
    await this.writeArray(ParamId.wRec, params.wRec.flat());
    await this.writeArray(ParamId.wOut, params.wOut.flat());
    await this.writeArray(ParamId.bOut, params.bOut);
    if (this.feedback !== "symmetric") {
      if (!B) throw new Error("feedback matrix B required for non-symmetric feedback");
      await this.writeArray(ParamId.B, B.flat());
    }
  }

  private static rows(f: Float32Array, rows: number, cols: number): Matrix {
    return Array.from({ length: rows }, (_, r) => Array.from(f.subarray(r * cols, (r + 1) * cols)));
  }

  async readParams(): Promise<Params> {
    const m = this.need();
    return {
      wIn: DeviceClient.rows(await this.readArray(ParamId.wIn, m.nRec * m.nIn), m.nRec, m.nIn),
      wRec: DeviceClient.rows(await this.readArray(ParamId.wRec, m.nRec * m.nRec), m.nRec, m.nRec),
      wOut: DeviceClient.rows(await this.readArray(ParamId.wOut, m.nOut * m.nRec), m.nOut, m.nRec),
      bOut: Array.from(await this.readArray(ParamId.bOut, m.nOut)),
    };
  }

  /** The feedback matrix B [nRec][nOut] as the device holds it (random/adaptive feedback). */
  async readFeedback(): Promise<Matrix> {
    const m = this.need();
    return DeviceClient.rows(await this.readArray(ParamId.B, m.nRec * m.nOut), m.nRec, m.nOut);
  }

  async readGrads(): Promise<Grads> {
    const m = this.need();
    const g = (p: number, n: number) => this.readArray(p, n, MsgType.GRADS);
    return {
      wIn: DeviceClient.rows(await g(ParamId.wIn, m.nRec * m.nIn), m.nRec, m.nIn),
      wRec: DeviceClient.rows(await g(ParamId.wRec, m.nRec * m.nRec), m.nRec, m.nRec),
      wOut: DeviceClient.rows(await g(ParamId.wOut, m.nOut * m.nRec), m.nOut, m.nRec),
      bOut: Array.from(await g(ParamId.bOut, m.nOut)),
    };
  }

  /** Steps per RUN frame for the given per-step request/response bytes. */
  stepsPerFrame(reqPerStep: number, respPerStep: number, fixedResp = 0): number {
    const room = this.session.maxBody - RUN_OVERHEAD;
    const n = Math.floor(Math.min(room / reqPerStep, (room - fixedResp) / Math.max(respPerStep, 1e-9)));
    return Math.max(1, Math.min(n, 65535));
  }

  /** One trial (reset, T steps, finish) streamed in as many RUN frames as needed. */
  async runTrial(inputs: Matrix, targets: Matrix, mask: number[], opts: TrialRunOptions = {}): Promise<TrialRun> {
    const m = this.need();
    const T = inputs.length;
    if (targets.length !== T || mask.length !== T) throw new Error(`inputs, targets and mask must all have ${T} steps`);
    const spikesIn = inputs.every((r) => r.every((x) => x === 0 || x === 1));
    const xPer = spikesIn ? bitRowBytes(m.nIn) : 4 * m.nIn;
    const anyMask0 = mask.some((x) => x === 0);
    const reqPer = xPer + 4 * m.nOut + (anyMask0 ? 1 / 8 : 0) + (opts.injectL ? 4 * m.nRec : 0);
    const respPer = (opts.outputs ? 4 * m.nOut : 0) + (opts.spikes ? bitRowBytes(m.nRec) : 0);
    let per = this.stepsPerFrame(reqPer, respPer, opts.spikes ? 2 * m.nRec : 0);
    if (opts.maxStepsPerFrame) per = Math.min(per, opts.maxStepsPerFrame);
    const o = (opts.outputs ? 1 : 0) | (opts.spikes ? 2 | 4 : 0);
    const y: number[][] = [];
    const z: number[][] = [];
    const counts = new Array<number>(m.nRec).fill(0);
    let loss = NaN;
    let frames = 0;
    if (opts.keepGrads) await this.reset(ResetWhat.STATE);
    for (let t0 = 0; t0 < T; t0 += per) {
      const n = Math.min(per, T - t0);
      const xs = inputs.slice(t0, t0 + n);
      const body: Body = {
        n,
        x: spikesIn ? packBits(xs, m.nIn) : f32le(xs.flat()),
        tg: f32le(targets.slice(t0, t0 + n).flat()),
      };
      if (!spikesIn) body.xf = 1;
      if (anyMask0) body.m = packBits([mask.slice(t0, t0 + n)], n);
      if (opts.injectL) body.ls = f32le(opts.injectL.slice(t0, t0 + n).flat());
      if (t0 === 0 && !opts.keepGrads) body.rs = true;
      if (t0 + n >= T) body.end = true;
      if (opts.learn === false) body.learn = false;
      if (o) body.o = o;
      const r = await this.request(MsgType.RUN, body, opts.timeoutMs);
      frames++;
      if (opts.outputs) y.push(...DeviceClient.rows(fromF32le(r.y as Uint8Array), n, m.nOut));
      if (opts.spikes) {
        z.push(...unpackBits(r.z as Uint8Array, n, m.nRec));
        fromU16le(r.sc as Uint8Array).forEach((c, j) => (counts[j]! += c));
      }
      if (r.loss !== undefined) loss = r.loss as number;
    }
    const out: TrialRun = { loss, frames };
    if (opts.outputs) out.y = y;
    if (opts.spikes) {
      out.z = z;
      out.spikeCounts = counts;
    }
    return out;
  }

  async apply(a: ApplyOptions): Promise<number> {
    return (await this.applyResponse(a)).k as number;
  }

  /** APPLY, answered with the whole response (`k`, and e-prop's `lr`: the float32 rate it applied). */
  async applyResponse(a: ApplyOptions): Promise<Body> {
    const body: Body = { opt: a.optimizer === "adam" ? 1 : 0, lr: a.lr };
    if (a.div !== undefined && a.div !== 1) body.div = a.div;
    if (a.optimizer === "adam") {
      if (a.b1 !== undefined) body.b1 = a.b1;
      if (a.b2 !== undefined) body.b2 = a.b2;
      if (a.eps !== undefined) body.eps = a.eps;
      if (a.step !== undefined) body.k = a.step;
    } else if (a.wMin !== undefined || a.wMax !== undefined) {
      body.wMin = a.wMin;
      body.wMax = a.wMax;
    }
    return this.request(MsgType.APPLY, body);
  }

  async reset(k = 3): Promise<void> {
    await this.request(MsgType.RESET, { k });
  }

  /** The device's whole learning state (header + arena), read in chunks. */
  async checkpointRead(): Promise<Uint8Array> {
    const size = (await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.INFO })).size as number;
    const out = new Uint8Array(size);
    const chunk = this.session.maxBody - 40;
    for (let o = 0; o < size; o += chunk) {
      const r = await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.READ, o, n: Math.min(chunk, size - o) });
      out.set(r.d as Uint8Array, o);
    }
    return out;
  }

  /** Restores a blob from checkpointRead() (configures the device from it). */
  async checkpointWrite(blob: Uint8Array, model: ModelConfig, feedback: FeedbackKind): Promise<void> {
    await this.restoreBlob(blob, "eprop");
    this.model = model;
    this.feedback = feedback;
  }

  /**
   * Writes a checkpoint blob back in chunks; `rule` names the rule whose blob it is (PROTOCOL.md
   * CHECKPOINT `rule`: it selects that rule on the board, whichever rule was active there).
   */
  async restoreBlob(blob: Uint8Array, rule?: string): Promise<void> {
    const chunk = Math.max(96, this.session.maxBody - 40);
    for (let o = 0; o < blob.length; o += chunk) {
      await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.WRITE, o, d: blob.subarray(o, o + chunk), ...(rule !== undefined ? this.ruleField(rule) : {}) });
    }
  }

  /** `{ rule }` for a CONFIGURE or CHECKPOINT, unless the firmware predates the rule seam (it would refuse the field). */
  ruleField(rule: string): Body {
    return this.rules ? { rule } : {};
  }

  /** Blob → the board's persistent storage; returns its size. */
  async checkpointSave(): Promise<number> {
    return (await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.SAVE })).size as number;
  }

  /**
   * Persistent storage → device state (after a board restart). Returns the blob size and `k`,
   * the number of updates the restored state holds (resume at iteration k + 1).
   */
  async checkpointLoad(model: ModelConfig, feedback: FeedbackKind): Promise<{ size: number; updates: number }> {
    const r = await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.LOAD, ...this.ruleField("eprop") });
    this.model = model;
    this.feedback = feedback;
    return { size: r.size as number, updates: r.k as number };
  }

  /** Size of the device's checkpoint blob and the number of updates its state holds. */
  async checkpointInfo(): Promise<{ size: number; updates: number }> {
    const r = await this.request(MsgType.CHECKPOINT, { op: CheckpointOp.INFO });
    return { size: r.size as number, updates: r.k as number };
  }
}
