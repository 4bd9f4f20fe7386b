// The learning-rule seam (host side). A rule is one module: its case schema, its float64
// reference, its device kernel driver (wasm in Node, and a board over the protocol), its
// planner layout and its training. Rules are registered in host/rules/index.ts, one line each;
// `edgeprop grad|train --rule NAME` finds them there. The device side has the twin registry
// in the firmware (device/firmware/rules.ts). How to add a rule: host/rules/README.md.
import type { Json } from "../input/fields.ts";
import type { DeviceClient } from "../session/client.ts";
import type { RuleTraining } from "../train/training.ts";

/** What `edgeprop grad` prints: the loss, the gradients in the case's own parameter layout, and rule extras. */
export interface GradOutput {
  loss: number;
  grads: object;
  /** Rule-specific fields the spec prints beside loss and grads (DECOLLE `layerLoss`, EqProp `residual`). */
  [extra: string]: unknown;
}

export type Build = "scalar" | "simd";

/** The three case shapes of the hil-case/1 envelope (MODEL.md; DECOLLE.md/OSTL.md `model.layers`; EQPROP.md `model.kind`). */
export type CaseKind = "recurrent" | "stack" | "eqprop";

/** Which shape a parsed-JSON case has, before any rule validates it. */
export function caseKind(json: Json): CaseKind {
  const m = typeof json === "object" && json !== null ? (json as Record<string, Json>).model : undefined;
  if (typeof m !== "object" || m === null || Array.isArray(m)) return "recurrent";
  const model = m as Record<string, Json>;
  if (model.kind === "eqprop") return "eqprop";
  return model.layers !== undefined ? "stack" : "recurrent";
}

export interface DeviceBytesOptions {
  /** The optimizer the board will run (Adam reserves its moments on the device). */
  optimizer?: "gd" | "adam";
}

/** How a refusal of a model too large for a board describes it. */
export interface DeviceSize {
  /** The case field that dominates the size (e.g. `model.nRec`). */
  field: string;
  /** The model's dimensions in words (e.g. `nIn 80 x nRec 100 x nOut 3`). */
  shape: string;
  /** Anything else worth saying (e.g. synapses and bytes per synapse). */
  detail?: string;
}

export interface RuleModule<C = unknown> {
  /** The `--rule` value. */
  readonly name: string;
  /** One line for `--help` and the README. */
  readonly summary: string;
  /** Case shapes this rule reads. */
  readonly kinds: readonly CaseKind[];
  /** Validates a case (InputError naming the field and the limit); sizes are checked before anything is allocated. */
  parseCase(json: Json, source: string): C;
  /** The float64 reference: what `grad --backend host` prints. */
  reference(c: C): GradOutput;
  /** The device kernels in Node (`--backend wasm`); absent when the rule has no device kernel. */
  wasm?(c: C, build: Build): Promise<GradOutput>;
  /**
   * On a board over the protocol (`--backend sim|qemu`, `--port`), after HELLO has shown the firmware carries
   * the rule (device/firmware/rules.ts registers it under the same name); absent when no firmware can.
   */
  board?(c: C, client: DeviceClient): Promise<GradOutput>;
  /** Bytes of device state the case's model needs on a board (scalar layout), checked against the board's RAM first. */
  deviceBytes?(c: C, opts?: DeviceBytesOptions): number;
  /** Names the field and the dimensions when deviceBytes exceeds a board's RAM (default: field `model`). */
  deviceSize?(c: C, opts?: DeviceBytesOptions): DeviceSize;
  /** How the rule trains (`edgeprop train --rule NAME`); absent: the rule computes gradients only. */
  training?: RuleTraining<C>;
}
