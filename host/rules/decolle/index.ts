// DECOLLE as a learning rule on the seam (host/rules/rule.ts): DECOLLE.md's layer-stack case,
// the float64 streaming reference, the float32 kernel in Node and on a board over the protocol.
import type { RuleModule } from "../rule.ts";
import { decolleBoard } from "./board.ts";
import { planDecolle } from "./plan.ts";
import { decolleGrad } from "./reference.ts";
import { parseDecolleCase, type DecolleCase } from "./schema.ts";
import { decolleTraining } from "./training.ts";
import { decolleWasm } from "./wasm.ts";

export const decolleRule: RuleModule<DecolleCase> = {
  name: "decolle",
  summary: "DECOLLE (Kaiser, Mostafa & Neftci 2020): a stack of spiking layers, each trained online by its own fixed random readout",
  kinds: ["stack"],
  parseCase: parseDecolleCase,
  reference: decolleGrad,
  wasm: decolleWasm,
  board: decolleBoard,
  /** The scalar (lanes 1) arena: weights, gradients, readouts, traces and state, and Adam's moments when training with Adam. */
  deviceBytes: (c, opts = {}) => planDecolle(c.model, 1, opts).bytes,
  training: decolleTraining,
};
