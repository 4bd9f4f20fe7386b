// EqProp on a board over the protocol (PROTOCOL.md §4 "EqProp"; firmware side
// device/rules/eqprop/handlers.ts). `edgeprop grad --rule eqprop --backend sim|qemu` is
// eqpropBoard(case, client): CONFIGURE (rule "eqprop"), WRITE W and b, RUN the samples in frames
// (training mode, residuals), GRADS. EqpropBoard is the typed client a trainer uses
// (board-train.ts). The board rounds the float64 constants and `lr / batch` once to float32 and
// sums the loss in float64 sample by sample, as host/rules/eqprop/wasm.ts does, so a board
// equals `--backend wasm` bit for bit; a mean is taken here in float64, as there.
import type { DeviceClient } from "../../session/client.ts";
import { CheckpointOp, MsgType, f32le, fromF32le, fromU16le, type Body } from "../../../protocol/messages.ts";
import { scaleGrads, type EqpropGradOutput, type Residuals } from "./reference.ts";
import type { EqpropCase, EqpropModel, EqpropParams } from "./schema.ts";
import type { BatchOutcome } from "./train.ts";

/** WRITE/READ/GRADS ids: W[l] = 2l, b[l] = 2l + 1, the learning rates (WRITE/READ), the residual maxima (GRADS). */
export const EQPROP_ID = {
  W: (l: number): number => 2 * l,
  b: (l: number): number => 2 * l + 1,
  lr: 32,
  residual: 33,
} as const;

export interface EqpropRunOptions {
  /** Free and nudged phases, estimates summed (default true); false = the free phase only (evaluation). */
  learn?: boolean;
  /** Ask for the residual maxima of the batch (one more drive per phase and sample). */
  residual?: boolean;
  /** Max samples per RUN frame (default: as many as fit). */
  maxSamplesPerFrame?: number;
  /** Per-attempt timeout of each RUN frame (default: the session's). */
  timeoutMs?: number;
}

export interface EqpropRun extends BatchOutcome {
  frames: number;
  /** With `residual`: the largest float32 residual of each phase over the batch. */
  residual?: Residuals;
}

/** Response bytes of a RUN besides the predictions: keys, n, t, loss, res. */
const RUN_FIXED = 48;

const rows = (f: Float32Array, r: number, c: number): number[][] =>
  Array.from({ length: r }, (_, i) => Array.from(f.subarray(i * c, (i + 1) * c)));

/** The EqProp messages of one board that has said HELLO. */
export class EqpropBoard {
  constructor(
    readonly dev: DeviceClient,
    readonly model: EqpropModel,
  ) {}

  private get L(): number {
    return this.model.layers.length - 1;
  }

  /** A new model on the board (zero weights, no rates); replaces whatever rule it held. */
  async configure(): Promise<{ bytes: number; ram: number }> {
    const m = this.model;
    const r = await this.dev.request(MsgType.CONFIGURE, {
      rule: "eqprop", layers: m.layers, beta: m.beta, epsilon: m.epsilon, freeSteps: m.freeSteps,
      nudgedSteps: m.nudgedSteps, nudge: m.nudge, lossReduction: m.lossReduction,
    });
    return { bytes: r.bytes as number, ram: r.ram as number };
  }

  async writeParams(p: EqpropParams): Promise<void> {
    for (let l = 0; l < this.L; l++) {
      await this.dev.writeArray(EQPROP_ID.W(l), p.W[l]!.flat());
      await this.dev.writeArray(EQPROP_ID.b(l), p.b[l]!);
    }
  }

  /** W and b (READ) or their sums over the batch (GRADS), in the case's shapes. */
  private async readPairs(type: number): Promise<EqpropParams> {
    const n = this.model.layers;
    const out: EqpropParams = { W: [], b: [] };
    for (let l = 0; l < this.L; l++) {
      out.W.push(rows(await this.dev.readArray(EQPROP_ID.W(l), n[l + 1]! * n[l]!, type), n[l + 1]!, n[l]!));
      out.b.push(Array.from(await this.dev.readArray(EQPROP_ID.b(l), n[l + 1]!, type)));
    }
    return out;
  }

  readParams(): Promise<EqpropParams> {
    return this.readPairs(MsgType.READ);
  }

  /** The gradient sums of the batch (since RUN `rs` or APPLY). */
  readGrads(): Promise<EqpropParams> {
    return this.readPairs(MsgType.GRADS);
  }

  private residuals(f: Float32Array): Residuals {
    return this.model.nudge === "symmetric" ? { free: f[0]!, nudged: f[1]!, nudgedMinus: f[2]! } : { free: f[0]!, nudged: f[1]! };
  }

  /** The residual maxima of the batch (GRADS id 33). */
  async readResiduals(): Promise<Residuals> {
    return this.residuals(await this.dev.readArray(EQPROP_ID.residual, this.model.nudge === "symmetric" ? 3 : 2, MsgType.GRADS));
  }

  /** One batch (it starts a new one on the board) streamed in as many RUN frames as needed. */
  async run(xs: readonly (readonly number[])[], ys: readonly (readonly number[])[], opts: EqpropRunOptions = {}): Promise<EqpropRun> {
    const n = this.model.layers;
    const nIn = n[0]!, nOut = n[this.L]!;
    if (ys.length !== xs.length) throw new Error(`inputs and targets must have the same number of samples (${xs.length} vs ${ys.length})`);
    let per = this.dev.stepsPerFrame(4 * (nIn + nOut), 2, RUN_FIXED);
    if (opts.maxSamplesPerFrame) per = Math.min(per, opts.maxSamplesPerFrame);
    const out: EqpropRun = { loss: NaN, predictions: [], frames: 0 };
    for (let i0 = 0; i0 < xs.length; i0 += per) {
      const k = Math.min(per, xs.length - i0);
      const body: Body = { n: k, x: f32le(xs.slice(i0, i0 + k).flat()), tg: f32le(ys.slice(i0, i0 + k).flat()) };
      if (i0 === 0) body.rs = true;
      if (opts.learn === false) body.learn = false;
      if (opts.residual) body.res = true;
      const r = await this.dev.request(MsgType.RUN, body, opts.timeoutMs);
      out.frames++;
      out.predictions.push(...fromU16le(r.pred as Uint8Array));
      out.loss = r.loss as number;
      if (opts.residual) out.residual = this.residuals(fromF32le(r.res as Uint8Array));
    }
    return out;
  }

  /** W[l] -= lr[l] · (batch mean of the sums), lr one per layer pair (float64, divided by the batch on the board); returns the updates so far. */
  async apply(lr: readonly number[]): Promise<number> {
    return (await this.dev.request(MsgType.APPLY, { lr: [...lr] })).k as number;
  }

  /** Puts a checkpointRead() blob of an EqProp board back (on this or a fresh board). */
  restore(blob: Uint8Array): Promise<void> {
    return this.dev.restoreBlob(blob, "eqprop");
  }

  /** The checkpoint in the board's storage (CHECKPOINT SAVE) becomes the model: its size and `k`, the iterations it holds. */
  async load(): Promise<{ size: number; updates: number }> {
    const r = await this.dev.request(MsgType.CHECKPOINT, { op: CheckpointOp.LOAD, rule: "eqprop" });
    return { size: r.size as number, updates: r.k as number };
  }
}

/** `edgeprop grad --rule eqprop --backend sim|qemu`: the case on a board that has said HELLO. */
export async function eqpropBoard(c: EqpropCase, client: DeviceClient): Promise<EqpropGradOutput> {
  const b = new EqpropBoard(client, c.model);
  await b.configure();
  await b.writeParams(c.params);
  const r = await b.run(c.inputs, c.targets, { residual: true });
  const grads = await b.readGrads();
  // the board's loss is already the mean under "mean"; the gradient sums are scaled here in float64, as the wasm backend does
  if (c.model.lossReduction === "mean") scaleGrads(grads, 1 / c.inputs.length);
  return { loss: r.loss, grads, residual: r.residual! };
}
