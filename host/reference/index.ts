// The float64 reference: one entry point per rule.
import type { Case, GradResult, Rule } from "../model/types.ts";
import { bpttGrad } from "./bptt.ts";
import { epropGrad } from "./eprop.ts";

export function referenceGrad(c: Case, rule: Rule): GradResult {
  return rule === "bptt" ? bpttGrad(c) : epropGrad(c);
}
