// The registry of learning rules: one line per rule (host/rules/README.md says how to add one).
// `edgeprop grad|train --rule NAME` and the boards' firmware builds find rules here; the
// firmware's twin registry is device/firmware/rules.ts (same names).
import { InputError } from "../input/errors.ts";
import type { Json } from "../input/fields.ts";
import type { RuleTraining } from "../train/training.ts";
import { bpttRule } from "./bptt/index.ts";
import { decolleRule } from "./decolle/index.ts";
import { epropRule } from "./eprop/index.ts";
import { eqpropExactRule, eqpropRule } from "./eqprop/index.ts";
import { ostlRule } from "./ostl/index.ts";
import { caseKind, type RuleModule } from "./rule.ts";

/** Every rule, in the order `--rule` lists them. */
export const rules: readonly RuleModule[] = [
  bpttRule,
  epropRule,
  decolleRule,
  ostlRule,
  eqpropRule,
  eqpropExactRule,
];

/** The rule called `name`, or an InputError naming the known rules. */
export function getRule(name: string, field = "--rule"): RuleModule {
  const rule = rules.find((r) => r.name === name);
  if (!rule) throw new InputError(field, `expected one of ${rules.map((r) => r.name).join("|")}, got '${name}'`);
  return rule;
}

/** Rules whose device kernel a firmware can carry (device/firmware/rules.ts registers the same names). */
export function deviceRuleNames(): string[] {
  return rules.filter((r) => r.board).map((r) => r.name);
}

/** How rule `name` trains, or an InputError naming the rules that train. */
export function trainingOf(name: string, field = "--rule"): RuleTraining {
  const t = getRule(name, field).training;
  if (!t) throw new InputError(field, `rule '${name}' computes gradients only (edgeprop grad); rules that train: ${rules.filter((r) => r.training).map((r) => r.name).join("|")}`);
  return t;
}

/** A case file's JSON as `rule` reads it: first its shape (recurrent, stack, eqprop), then the rule's own schema. */
export function parseCaseFor(rule: RuleModule, json: Json, source: string): unknown {
  const kind = caseKind(json);
  if (!rule.kinds.includes(kind)) {
    const readers = rules.filter((r) => r.kinds.includes(kind)).map((r) => r.name);
    throw new InputError("model", `rule '${rule.name}' reads ${rule.kinds.join("|")} cases, this is a ${kind} case${readers.length ? ` (rules that read it: ${readers.join("|")})` : ""}`);
  }
  return rule.parseCase(json, source);
}
