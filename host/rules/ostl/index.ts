// OSTL as a rule module (host side): the stack case schema, the float64 streaming reference,
// the float32 kernels in Node, a board over the protocol (./board.ts) and the device bytes a
// stack needs. `--rule bptt` on a stack case reaches stackBpttGrad (./bptt.ts) through the bptt rule.
import type { RuleModule } from "../rule.ts";
import { ostlOnBoard } from "./board.ts";
import { planOstlModel } from "./layout.ts";
import { ostlGrad } from "./reference.ts";
import { parseOstlCase, type OstlCase } from "./schema.ts";
import { ostlWasmGrad } from "./wasm.ts";

export const ostlRule: RuleModule<OstlCase> = {
  name: "ostl",
  summary: "online spatio-temporal learning of a layer stack (OSTL.md): exact per layer, spatial learning signals across layers",
  kinds: ["stack"],
  parseCase: (json, source) => parseOstlCase(json, source),
  reference: (c) => ostlGrad(c),
  async wasm(c, build) {
    const { loss, grads } = await ostlWasmGrad(c, build);
    return { loss, grads };
  },
  board: (c, client) => ostlOnBoard(c, client),
  deviceBytes: (c) => planOstlModel(c.model).bytes,
};
