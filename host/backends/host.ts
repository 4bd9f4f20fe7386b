// `--backend host`: the rule's float64 reference, in process.
import { rules } from "../rules/index.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

export const hostBackend: GradBackend = {
  name: "host",
  get rules() {
    return rules.map((r) => r.name);
  },
  async grad<Out>(c: unknown, opts: GradOptions) {
    return ruleOn(hostBackend, opts.rule).reference(c) as Out;
  },
};
