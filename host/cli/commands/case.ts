// `edgeprop case random ...`: writes a random margin case (MODEL.md) for tests and users.
import { writeFileSync } from "node:fs";
import { randomCase } from "../../case/random.ts";
import type { InputScale, LossKind, LossReduction, NeuronKind, ReadoutScale } from "../../model/types.ts";
import { flagChoice, flagInt, flagNumber, flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";
import { DECOLLE_CASE_USAGE, OSTL_CASE_USAGE, decolleRandomCaseArgs, ostlRandomCaseArgs } from "./case-stack.ts";

/** Layer-stack rules draw their own cases from their own flags (`--rule NAME --layers ...`). */
const STACK_RULES: Record<string, (argv: string[]) => { json: unknown; out: string | undefined }> = { decolle: decolleRandomCaseArgs, ostl: ostlRandomCaseArgs };

export const caseCommand: Command = {
  name: "case",
  summary: "write a random hil-case/1 whose every step keeps |v - A| above a margin",
  usage:
    "edgeprop case random [--neuron lif|alif] [--recurrent] [--loss mse|ce] [--feedback symmetric|random] [--seed N] " +
    "[--nIn N] [--nRec N] [--nOut N] [--T N] [--margin X] [--refractory N] [--input-scale one|oneMinusAlpha] " +
    "[--readout-scale one|oneMinusKappa] [--no-bias] [--rate-reg C,F_HZ] [--reduction sum|mean] [--out FILE]\n" +
    `       ${DECOLLE_CASE_USAGE}\n       ${OSTL_CASE_USAGE}`,
  async run(argv) {
    const at = argv.findIndex((a) => a === "--rule" || a.startsWith("--rule="));
    const rule = at < 0 ? undefined : argv[at] === "--rule" ? argv[at + 1] : argv[at]!.slice("--rule=".length);
    if (rule !== undefined && rule !== "eprop") {
      const stack = STACK_RULES[rule];
      if (!stack) throw new InputError("--rule", `expected one of eprop|${Object.keys(STACK_RULES).join("|")}, got '${rule}'`);
      const { json, out } = stack(argv);
      return write(json, out);
    }
    const args = parseArgs(
      argv,
      ["rule", "neuron", "loss", "feedback", "seed", "nIn", "nRec", "nOut", "T", "margin", "refractory", "input-scale", "readout-scale", "rate-reg", "reduction", "out"],
      ["recurrent", "no-bias", "json"],
    );
    if (args.positionals[0] !== "random") throw new InputError("case", "expected the subcommand 'random'");
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
};

function write(json: unknown, out: string | undefined): number {
  const text = JSON.stringify(json) + "\n";
  if (out === undefined) process.stdout.write(text);
  else writeFileSync(out, text);
  return 0;
}
