// `edgeprop case random ...`: writes a random margin case (MODEL.md) for tests and users. The
// layer-stack rules (`--rule decolle|ostl`) draw theirs from their own flags (case-stack.ts).
import { writeFileSync } from "node:fs";
import { randomCase } from "../../case/random.ts";
import type { InputScale, LossKind, LossReduction, NeuronKind, ReadoutScale } from "../../model/types.ts";
import { flagChoice, flagInt, flagNumber, flagString } from "../args.ts";
import { defineCommand, type FlagSpec } from "../command.ts";
import { InputError } from "../../input/errors.ts";
import { DECOLLE_CASE_USAGE, OSTL_CASE_USAGE, decolleRandomCaseArgs, ostlRandomCaseArgs } from "./case-stack.ts";

/** Layer-stack rules draw their own cases from their own flags (`--rule NAME --layers ...`). */
const STACK_RULES: Record<string, (argv: string[]) => { json: unknown; out: string | undefined }> = { decolle: decolleRandomCaseArgs, ostl: ostlRandomCaseArgs };

const n = (value: string, dflt: string, description: string): FlagSpec => ({ type: "string", value, default: dflt, description });

export const caseCommand = defineCommand({
  name: "case",
  summary: "write a random hil-case/1 whose every step keeps |v - A| above a margin",
  usage: "random [--rule eprop|decolle|ostl] [options] [--out FILE]",
  description:
    "A seeded random case (network, weights, inputs, targets) for `edgeprop grad`; printed on stdout unless\n" +
    "--out. The layer-stack rules take their own flags:\n" +
    `  ${DECOLLE_CASE_USAGE}\n  ${OSTL_CASE_USAGE}`,
  flags: {
    rule: n("eprop|decolle|ostl", "eprop", "which rule's case (eprop's also serves bptt)"),
    neuron: n("lif|alif", "lif", "neuron model (ostl: one, or one per layer)"),
    recurrent: { type: "boolean", description: "random recurrent weights (else wRec = 0)" },
    loss: n("mse|ce", "mse", "loss (decolle also smoothL1)"),
    feedback: n("symmetric|random", "symmetric", "e-prop feedback"),
    seed: n("N", "1", "random seed"),
    nIn: n("N", "8", "inputs (at most 4096)"),
    nRec: n("N", "12", "recurrent neurons (at most 4096)"),
    nOut: n("N", "3", "outputs (at most 4096)"),
    T: n("N", "120", "time steps"),
    margin: n("X", "1e-4", "smallest |v - A| allowed at any step"),
    refractory: n("N", "0", "refractory steps"),
    "input-scale": n("one|oneMinusAlpha", "one", "MODEL.md inputScale"),
    "readout-scale": n("one|oneMinusKappa", "one", "MODEL.md readoutScale"),
    "no-bias": { type: "boolean", description: "do not train bOut" },
    "rate-reg": n("C,F_HZ", "none", "firing-rate regulariser strength and target rate"),
    reduction: n("sum|mean", "sum", "loss reduction over time"),
    layers: n("N,N,...", "12,10", "decolle/ostl: layer sizes"),
    surrogate: n("box|sigmoid", "box", "decolle: surrogate derivative"),
    "trace-scale": n("one|oneMinus|tau", "one", "decolle: trace scale"),
    reg: n("LAMBDA", "0", "decolle: activity regulariser"),
    burnin: n("N", "min(5, T-1)", "decolle: burn-in steps"),
    "reset-grad": n("true|false", "true", "ostl: gradient through the reset"),
    out: n("FILE", "stdout", "write the case here"),
    json: { type: "boolean", default: "on (the case is JSON)", description: "accepted for symmetry with the other verbs" },
  },
  examples: [
    "edgeprop case random --neuron alif --recurrent --seed 3 --out case.json",
    "edgeprop case random --rule decolle --layers 12,10 --out stack.json",
  ],
  async main(args) {
    const rule = flagString(args, "rule");
    if (rule !== undefined && rule !== "eprop") {
      const stack = STACK_RULES[rule];
      if (!stack) throw new InputError("--rule", `expected one of eprop|${Object.keys(STACK_RULES).join("|")}, got '${rule}'`);
      const { json, out } = stack([...args.argv]);
      return write(json, out);
    }
    if (args.positionals[0] !== "random" || args.positionals.length !== 1) throw new InputError("case", "expected the subcommand 'random'");
    const stackOnly = ["layers", "surrogate", "trace-scale", "reg", "burnin", "reset-grad"].find((f) => args.flags.has(f));
    if (stackOnly) throw new InputError(`--${stackOnly}`, "only with --rule decolle|ostl");
    const rateReg = flagString(args, "rate-reg");
    let reg = null;
    if (rateReg !== undefined) {
      const [cReg, fTargetHz] = rateReg.split(",").map(Number);
      if (!Number.isFinite(cReg) || !Number.isFinite(fTargetHz)) throw new InputError("--rate-reg", `expected C,F_HZ (two numbers), got '${rateReg}'`);
      reg = { cReg: cReg!, fTargetHz: fTargetHz! };
    }
    const c = randomCase({
      neuron: flagChoice<NeuronKind>(args, "neuron", ["lif", "alif"], "lif"),
      recurrent: args.flags.has("recurrent"),
      loss: flagChoice<LossKind>(args, "loss", ["mse", "ce"], "mse"),
      feedback: flagChoice(args, "feedback", ["symmetric", "random"] as const, "symmetric"),
      seed: flagInt(args, "seed", 1, 0, 2 ** 53),
      nIn: flagInt(args, "nIn", 8, 1, 4096),
      nRec: flagInt(args, "nRec", 12, 1, 4096),
      nOut: flagInt(args, "nOut", 3, 1, 4096),
      T: flagInt(args, "T", 120, 1, 1_000_000),
      margin: flagNumber(args, "margin", 1e-4, 0, 1),
      refractory: flagInt(args, "refractory", 0, 0, 1000),
      inputScale: flagChoice<InputScale>(args, "input-scale", ["one", "oneMinusAlpha"], "one"),
      readoutScale: flagChoice<ReadoutScale>(args, "readout-scale", ["one", "oneMinusKappa"], "one"),
      trainBias: !args.flags.has("no-bias"),
      rateReg: reg,
      lossReduction: flagChoice<LossReduction>(args, "reduction", ["sum", "mean"], "sum"),
    });
    return write(c, flagString(args, "out"));
  },
});

function write(json: unknown, out: string | undefined): number {
  const text = JSON.stringify(json) + "\n";
  if (out === undefined) process.stdout.write(text);
  else writeFileSync(out, text);
  return 0;
}
