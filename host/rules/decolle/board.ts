// DECOLLE on a board over the protocol (PROTOCOL.md §4 "DECOLLE"; firmware side
// device/rules/decolle/handlers.ts): `edgeprop grad --rule decolle --backend sim|qemu` is
// decolleBoard(case, client) — CONFIGURE (rule "decolle"), WRITE every layer's w, b, G, bG,
// RUN the trial in frames, GRADS — and DecolleClient is the typed client a trainer uses
// (APPLY for "trial" and "step" updates, evaluation runs, rasters, checkpoint restore).
// The float32 constants are the firmware's rounding of the float64 values sent here, exactly as
// host/rules/decolle/wasm.ts rounds them, so a board equals `--backend wasm` bit for bit.
import type { DeviceClient } from "../../session/client.ts";
import { MsgType, bitRowBytes, f32le, fromF32le, fromU16le, packBits, unpackBits, type Body } from "../../../protocol/messages.ts";
import type { DecolleGrad } from "./reference.ts";
import type { DecolleCase, DecolleModel, LayerParams, Readout } from "./schema.ts";

/** Parameter ids: p = 4 l + DECOLLE_PARAM[name] (GRADS: w and b only). */
export const DECOLLE_PARAM = { w: 0, b: 1, G: 2, bG: 3 } as const;
export const decolleParamId = (l: number, name: keyof typeof DECOLLE_PARAM): number => 4 * l + DECOLLE_PARAM[name];

export interface DecolleBoardOptions {
  optimizer?: "gd" | "adam";
  /** "trial" (default on the wire): APPLY applies the trial's gradient; "step": APPLY arms an update after every masked step. */
  update?: "trial" | "step";
}

export interface DecolleRunOptions {
  /** Accumulate gradients / apply per-step updates (default true); false = evaluation. */
  learn?: boolean;
  /** Return every layer's readout y[t][l][k]. */
  outputs?: boolean;
  /** Return every layer's spikes z[l][t][j] and counts. */
  spikes?: boolean;
  /** Max steps per RUN frame (default: as many as fit). */
  maxStepsPerFrame?: number;
  timeoutMs?: number;
}

export interface DecolleTrialRun {
  loss: number;
  layerLoss: number[];
  frames: number;
  /** y[t][l][k] */
  y?: number[][][];
  /** z[l][t][j] */
  z?: number[][][];
  /** [l][j] */
  spikeCounts?: number[][];
}

export interface DecolleApply {
  optimizer: "gd" | "adam";
  lr: number;
  b1?: number;
  b2?: number;
  eps?: number;
  wMin?: number;
  wMax?: number;
  /** Adam step index n ("trial" only; default: the device counts). */
  step?: number;
  /** "step" only: divisor of each step's gradient (M of the coming trials under lossReduction "mean"). */
  div?: number;
}

/** Bytes per RUN response for the fixed fields and, at `end`, loss + layerLoss. */
const RUN_FIXED = 48;

const rows = (f: Float32Array, r: number, c: number): number[][] =>
  Array.from({ length: r }, (_, i) => Array.from(f.subarray(i * c, (i + 1) * c)));

/** The DECOLLE messages of one board. */
export class DecolleClient {
  constructor(
    readonly dev: DeviceClient,
    readonly model: DecolleModel,
  ) {}

  private get sizes(): number[] {
    return [this.model.nIn, ...this.model.layers.map((l) => l.n)];
  }

  async configure(opts: DecolleBoardOptions = {}): Promise<{ bytes: number; ram: number }> {
    const m = this.model;
    const r = await this.dev.request(MsgType.CONFIGURE, {
      rule: "decolle", nIn: m.nIn, nOut: m.nOut, loss: m.loss, lossReduction: m.lossReduction, traceScale: m.traceScale,
      surrogate: m.surrogate, optimizer: opts.optimizer ?? "gd", decolleUpdate: opts.update ?? "trial",
      layers: m.layers.map(({ n, alpha, beta, alpharp, wrp, reg }) => ({ n, alpha, beta, alpharp, wrp, reg })),
    });
    return { bytes: r.bytes as number, ram: r.ram as number };
  }

  /** W, b (trained) and the fixed readouts G, bG of every layer. */
  async writeParams(params: { layers: LayerParams[] }, readouts: Readout[]): Promise<void> {
    for (let l = 0; l < this.model.layers.length; l++) {
      await this.dev.writeArray(decolleParamId(l, "w"), params.layers[l]!.w.flat());
      await this.dev.writeArray(decolleParamId(l, "b"), params.layers[l]!.b);
      await this.dev.writeArray(decolleParamId(l, "G"), readouts[l]!.G.flat());
      await this.dev.writeArray(decolleParamId(l, "bG"), readouts[l]!.bG);
    }
  }

  /** w [n_l][n_{l-1}] and b [n_l] of every layer, as parameters (READ) or their gradients (GRADS). */
  private async readLayers(type: number): Promise<DecolleGrad["grads"]> {
    const s = this.sizes;
    const layers = [];
    for (let l = 0; l < this.model.layers.length; l++) {
      const w = await this.dev.readArray(decolleParamId(l, "w"), s[l + 1]! * s[l]!, type);
      const b = await this.dev.readArray(decolleParamId(l, "b"), s[l + 1]!, type);
      layers.push({ w: rows(w, s[l + 1]!, s[l]!), b: Array.from(b) });
    }
    return { layers };
  }

  readParams(): Promise<{ layers: LayerParams[] }> {
    return this.readLayers(MsgType.READ);
  }

  readGrads(): Promise<DecolleGrad["grads"]> {
    return this.readLayers(MsgType.GRADS);
  }

  /** One trial (reset, T steps, finish) streamed in as many RUN frames as needed. */
  async runTrial(inputs: number[][], targets: number[][], mask: number[], opts: DecolleRunOptions = {}): Promise<DecolleTrialRun> {
    const m = this.model;
    const L = m.layers.length;
    const T = inputs.length;
    if (targets.length !== T || mask.length !== T) throw new Error(`inputs, targets and mask must all have ${T} steps`);
    const N = m.layers.reduce((a, l) => a + l.n, 0);
    const spikesIn = inputs.every((r) => r.every((x) => x === 0 || x === 1));
    const anyMask0 = mask.some((x) => x === 0);
    const reqPer = (spikesIn ? bitRowBytes(m.nIn) : 4 * m.nIn) + 4 * m.nOut + (anyMask0 ? 1 / 8 : 0);
    const respPer = (opts.outputs ? 4 * L * m.nOut : 0) + (opts.spikes ? bitRowBytes(N) : 0);
    let per = this.dev.stepsPerFrame(reqPer, respPer, RUN_FIXED + 9 * L + (opts.spikes ? 2 * N : 0));
    if (opts.maxStepsPerFrame) per = Math.min(per, opts.maxStepsPerFrame);
    const o = (opts.outputs ? 1 : 0) | (opts.spikes ? 2 | 4 : 0);
    const out: DecolleTrialRun = { loss: NaN, layerLoss: [], frames: 0 };
    if (opts.outputs) out.y = [];
    if (opts.spikes) {
      out.z = m.layers.map(() => []);
      out.spikeCounts = m.layers.map((l) => new Array<number>(l.n).fill(0));
    }
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
      const r = await this.dev.request(MsgType.RUN, body, opts.timeoutMs);
      out.frames++;
      if (out.y) for (const yt of rows(fromF32le(r.y as Uint8Array), n, L * m.nOut)) out.y.push(m.layers.map((_, l) => yt.slice(l * m.nOut, (l + 1) * m.nOut)));
      if (out.z && out.spikeCounts) this.splitSpikes(unpackBits(r.z as Uint8Array, n, N), fromU16le(r.sc as Uint8Array), out.z, out.spikeCounts);
      if (r.loss !== undefined) {
        out.loss = r.loss as number;
        out.layerLoss = r.layerLoss as number[];
      }
    }
    return out;
  }

  /** Rows of all layers' spikes (layer 0 first) and their counts into per-layer rasters and counts. */
  private splitSpikes(z: number[][], sc: Uint16Array, rasters: number[][][], counts: number[][]): void {
    let j0 = 0;
    this.model.layers.forEach(({ n }, l) => {
      for (const row of z) rasters[l]!.push(row.slice(j0, j0 + n));
      for (let j = 0; j < n; j++) counts[l]![j]! += sc[j0 + j]!;
      j0 += n;
    });
  }

  /** "trial": applies the accumulated gradient now. "step": arms the update every later masked step applies. Returns `k`. */
  async apply(a: DecolleApply): Promise<number> {
    const body: Body = { opt: a.optimizer === "adam" ? 1 : 0, lr: a.lr };
    for (const k of ["b1", "b2", "eps", "wMin", "wMax", "div"] as const) if (a[k] !== undefined) body[k] = a[k];
    if (a.step !== undefined) body.k = a.step;
    return (await this.dev.request(MsgType.APPLY, body)).k as number;
  }

  /** Puts a checkpointRead() blob of a DECOLLE board back (on this or a fresh board). */
  restore(blob: Uint8Array): Promise<void> {
    return this.dev.restoreBlob(blob, "decolle");
  }
}

/** `edgeprop grad --rule decolle --backend sim|qemu`: the case on a board that has said HELLO. */
export async function decolleBoard(c: DecolleCase, client: DeviceClient): Promise<DecolleGrad> {
  const d = new DecolleClient(client, c.model);
  await d.configure();
  await d.writeParams(c.params, c.readouts);
  const r = await d.runTrial(c.inputs, c.targets, c.mask);
  return { loss: r.loss, layerLoss: r.layerLoss, grads: await d.readGrads() };
}
