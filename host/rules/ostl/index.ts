// OSTL as a rule module (host side): the stack case schema, the float64 streaming reference,
// the float32 kernels in Node, a board over the protocol (./board.ts), the device bytes a
// stack needs and its training (./training.ts: host and boards). `--rule bptt` on a stack case
// reaches stackBpttGrad (./bptt.ts) through the bptt rule, which trains stacks with stackTraining too.
import type { RuleModule } from "../rule.ts";
import { ostlOnBoard } from "./board.ts";
import { ostlDevice } from "./device-trainer.ts";
import { planOstlModel } from "./layout.ts";
import { ostlGrad } from "./reference.ts";
import { parseOstlCase, type OstlCase } from "./schema.ts";
import { stackTraining } from "./training.ts";
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
  deviceBytes: (c, opts = {}) => planOstlModel(c.model, opts).bytes,
  deviceSize: (c, opts = {}) => {
    const p = planOstlModel(c.model, opts);
    return {
      field: "model.layers",
      shape: `nIn ${c.model.nIn} x layers ${c.model.layers.map((l) => l.n).join(",")} x nOut ${c.model.nOut}`,
      detail: `${p.synapses} synapses at ${p.bytesPerSynapse.toFixed(1)} bytes each`,
    };
  },
  training: stackTraining(ostlGrad, ostlDevice),
};
