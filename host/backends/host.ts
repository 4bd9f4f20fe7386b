// `--backend host`: the float64 reference, in process.
import { referenceGrad } from "../reference/index.ts";
import type { GradBackend } from "./backend.ts";

export const hostBackend: GradBackend = {
  name: "host",
  rules: ["bptt", "eprop"],
  grad: async (c, { rule }) => referenceGrad(c, rule),
};
