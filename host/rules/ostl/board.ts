// OSTL on a board over the protocol (PROTOCOL.md §7 "OSTL"; firmware side
// device/rules/ostl/handlers.ts): `edgeprop grad --rule ostl --backend sim|qemu` is
// ostlOnBoard — CONFIGURE the stack, WRITE its parameters, RUN the trial in frames, read GRADS.
// OstlBoard is the typed host half of the messages (training and reports build on it). The
// constants are the host's float64 values, which the firmware rounds to f32 once, as
// OstlDevice (./wasm.ts) does: a board computes the `wasm` backend's numbers bit for bit.
import type { Matrix } from "../../model/types.ts";
import type { ApplyOptions, DeviceClient } from "../../session/client.ts";
import {
  CheckpointOp, MsgType, bitRowBytes, encodeBody, f32le, fromF32le, packBits, unpackBits, type Body,
} from "../../../protocol/messages.ts";
import type { GradOutput } from "../rule.ts";
import type { OstlGrads, OstlModel, OstlParams, OstlCase } from "./schema.ts";

const RULE = "ostl";

/** Parameter ids of WRITE/READ/GRADS (PROTOCOL.md §7): layer l's W [n_l][n_{l-1}] and b [n_l], the readout, beta^l. */
export const OstlId = {
  w: (l: number) => 2 * l,
  b: (l: number) => 2 * l + 1,
  wOut: 32,
  bOut: 33,
  beta: (l: number) => 48 + l,
} as const;

export interface OstlBoardOptions {
  /** `adam` reserves the Adam moments on the board (default gd). */
  optimizer?: "gd" | "adam";
}

export interface OstlBoardRunOptions {
  /** Return y[t][k]. */
  outputs?: boolean;
  /** Return every layer's spikes z[l][t][j]. */
  spikes?: boolean;
  /** Accumulate gradients (default true). */
  learn?: boolean;
  /** At most this many steps per RUN frame (default: as many as fit the frame). */
  maxStepsPerFrame?: number;
}

export interface OstlBoardRun {
  loss: number;
  y?: Matrix;
  spikes?: number[][][];
  frames: number;
}

const isUniform = (a: readonly number[]) => a.every((x) => x === a[0]);

/** CONFIGURE's body for a stack, plus the per-neuron beta vectors too large for it (sent by WRITE after it). */
export function configureBody(m: OstlModel, maxBody: number, opts: OstlBoardOptions = {}): { body: Body; betaWrites: [number, number[]][] } {
  const layers = m.layers.map((l) => ({
    n: l.n, neuron: l.neuron, alpha: Math.exp(-m.dt / l.tauMem), rho: Math.exp(-m.dt / l.tauAdapt), vTh: l.vTh, gamma: l.gamma,
    beta: isUniform(l.beta) ? l.beta[0]! : f32le(l.beta),
  }));
  const body: Body = {
    rule: RULE, nIn: m.nIn, nOut: m.nOut, dt: m.dt, tauOut: m.tauOut, kappa: Math.exp(-m.dt / m.tauOut),
    loss: m.loss, lossReduction: m.lossReduction, trainBias: m.trainBias, resetGrad: m.resetGrad,
    optimizer: opts.optimizer ?? "gd", layers,
  };
  const betaWrites: [number, number[]][] = [];
  if (encodeBody(body).length > maxBody) {
    // a non-zero placeholder keeps the layer adaptive; its per-neuron values follow by WRITE
    layers.forEach((l, i) => {
      if (typeof l.beta === "number") return;
      l.beta = Math.max(...m.layers[i]!.beta);
      betaWrites.push([OstlId.beta(i), m.layers[i]!.beta]);
    });
  }
  return { body, betaWrites };
}

/** A layer stack configured on a board. */
export class OstlBoard {
  /** The stack on a board that holds it already (configured, or restored, over `dev`). */
  constructor(
    readonly dev: DeviceClient,
    readonly model: OstlModel,
  ) {}

  /** CONFIGURE (all parameters 0 until written); returns the board's arena bytes and free RAM too. */
  static async configure(dev: DeviceClient, m: OstlModel, opts: OstlBoardOptions = {}): Promise<{ board: OstlBoard; bytes: number; ram: number }> {
    const { body, betaWrites } = configureBody(m, dev.session.maxBody, opts);
    const r = await dev.request(MsgType.CONFIGURE, body);
    for (const [p, beta] of betaWrites) await dev.writeArray(p, beta);
    return { board: new OstlBoard(dev, m), bytes: r.bytes as number, ram: r.ram as number };
  }

  /** Adopts a checkpoint blob (from checkpoint()) on a board, which need not be configured. */
  static async restore(dev: DeviceClient, m: OstlModel, blob: Uint8Array): Promise<OstlBoard> {
    await dev.restoreBlob(blob, RULE);
    return new OstlBoard(dev, m);
  }

  /** Reloads the checkpoint kept in the board's storage (CHECKPOINT SAVE); `updates` = APPLYs its state holds. */
  static async load(dev: DeviceClient, m: OstlModel): Promise<{ board: OstlBoard; size: number; updates: number }> {
    const r = await dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.LOAD, rule: RULE });
    return { board: new OstlBoard(dev, m), size: r.size as number, updates: r.k as number };
  }

  private nPrev(l: number): number {
    return l === 0 ? this.model.nIn : this.model.layers[l - 1]!.n;
  }

  async writeParams(p: OstlParams): Promise<void> {
    for (const [l, lp] of p.layers.entries()) {
      await this.dev.writeArray(OstlId.w(l), lp.w.flat());
      await this.dev.writeArray(OstlId.b(l), lp.b);
    }
    await this.dev.writeArray(OstlId.wOut, p.wOut.flat());
    await this.dev.writeArray(OstlId.bOut, p.bOut);
  }

  /** The parameters (type READ) or their gradients (GRADS: after a trial's RUN `end`) in the case's layout. */
  private async readAll(type: number): Promise<OstlParams> {
    const rows = (f: Float32Array, r: number, c: number): Matrix => Array.from({ length: r }, (_, i) => Array.from(f.subarray(i * c, (i + 1) * c)));
    const m = this.model;
    const layers: OstlParams["layers"] = [];
    for (const [l, lm] of m.layers.entries()) {
      layers.push({
        w: rows(await this.dev.readArray(OstlId.w(l), lm.n * this.nPrev(l), type), lm.n, this.nPrev(l)),
        b: Array.from(await this.dev.readArray(OstlId.b(l), lm.n, type)),
      });
    }
    const nTop = m.layers[m.layers.length - 1]!.n;
    return {
      layers,
      wOut: rows(await this.dev.readArray(OstlId.wOut, m.nOut * nTop, type), m.nOut, nTop),
      bOut: Array.from(await this.dev.readArray(OstlId.bOut, m.nOut, type)),
    };
  }

  readParams(): Promise<OstlParams> {
    return this.readAll(MsgType.READ);
  }

  readGrads(): Promise<OstlGrads> {
    return this.readAll(MsgType.GRADS);
  }

  /** One trial (rs on the first frame, end on the last) streamed in as many RUN frames as needed. */
  async runTrial(inputs: Matrix, targets: Matrix, mask: number[], opts: OstlBoardRunOptions = {}): Promise<OstlBoardRun> {
    const m = this.model;
    const T = inputs.length;
    if (targets.length !== T || mask.length !== T) throw new Error(`inputs, targets and mask must all have ${T} steps`);
    const N = m.layers.reduce((s, l) => s + l.n, 0);
    const spikesIn = inputs.every((r) => r.every((x) => x === 0 || x === 1));
    const anyMask0 = mask.some((x) => x === 0);
    const reqPer = (spikesIn ? bitRowBytes(m.nIn) : 4 * m.nIn) + 4 * m.nOut + (anyMask0 ? 1 / 8 : 0);
    const respPer = (opts.outputs ? 4 * m.nOut : 0) + (opts.spikes ? bitRowBytes(N) : 0);
    const per = Math.min(this.dev.stepsPerFrame(reqPer, respPer), opts.maxStepsPerFrame ?? Infinity);
    const o = (opts.outputs ? 1 : 0) | (opts.spikes ? 4 : 0);
    const y: Matrix = [];
    const spikes: number[][][] = m.layers.map(() => []);
    let loss = NaN;
    let frames = 0;
    for (let t0 = 0; t0 < T; t0 += per) {
      const n = Math.min(per, T - t0);
      const xs = inputs.slice(t0, t0 + n);
      const body: Body = { n, x: spikesIn ? packBits(xs, m.nIn) : f32le(xs.flat()), tg: f32le(targets.slice(t0, t0 + n).flat()) };
      if (!spikesIn) body.xf = 1;
      if (anyMask0) body.m = packBits([mask.slice(t0, t0 + n)], n);
      if (t0 === 0) body.rs = true;
      if (t0 + n >= T) body.end = true;
      if (opts.learn === false) body.learn = false;
      if (o) body.o = o;
      const r = await this.dev.request(MsgType.RUN, body);
      frames++;
      if (opts.outputs) {
        const f = fromF32le(r.y as Uint8Array);
        for (let t = 0; t < n; t++) y.push(Array.from(f.subarray(t * m.nOut, (t + 1) * m.nOut)));
      }
      if (opts.spikes) {
        // one bitmap row per step over every layer's neurons, bottom layer first
        for (const row of unpackBits(r.z as Uint8Array, n, N)) {
          let at = 0;
          m.layers.forEach((l, i) => spikes[i]!.push(row.slice(at, (at += l.n))));
        }
      }
      if (r.loss !== undefined) loss = r.loss as number;
    }
    const out: OstlBoardRun = { loss, frames };
    if (opts.outputs) out.y = y;
    if (opts.spikes) out.spikes = spikes;
    return out;
  }

  /** APPLY gd or Adam (same fields as e-prop's); returns the step index (adam) or the updates so far (gd). */
  apply(a: ApplyOptions): Promise<number> {
    return this.dev.apply(a);
  }

  /** The board's whole OSTL state (32-byte prefix + arena): what restore() adopts. */
  checkpoint(): Promise<Uint8Array> {
    return this.dev.checkpointRead();
  }
}

/** OSTL's loss and gradients of a stack case on a board (`grad --backend sim|qemu`). */
export async function ostlOnBoard(c: OstlCase, dev: DeviceClient): Promise<GradOutput> {
  const { board } = await OstlBoard.configure(dev, c.model);
  await board.writeParams(c.params);
  const r = await board.runTrial(c.inputs, c.targets, c.mask);
  return { loss: r.loss, grads: await board.readGrads() };
}
