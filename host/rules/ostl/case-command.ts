// `edgeprop case random --rule ostl --layers 12,10 ...`: writes a random OSTL stack margin case
// (./random.ts) for tests and users. Reached from host/cli/commands/case.ts.
import { InputError } from "../../input/errors.ts";
import type { LossKind, LossReduction, NeuronKind } from "../../model/types.ts";
import { flagChoice, flagInt, flagNumber, flagString, parseArgs } from "../../cli/args.ts";
import { LIMITS } from "./schema.ts";
import { randomOstlCase } from "./random.ts";

export const OSTL_CASE_USAGE =
  "edgeprop case random --rule ostl [--layers N,N,...] [--neuron lif|alif|KIND,KIND,...] [--loss mse|ce] [--reduction sum|mean] " +
  "[--reset-grad true|false] [--no-bias] [--seed N] [--nIn N] [--nOut N] [--T N] [--margin X] [--out FILE]";

function list(text: string, flag: string): string[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.length < 1 || items.length > LIMITS.maxLayers || items.some((s) => s === "")) {
    throw new InputError(`--${flag}`, `expected 1 to ${LIMITS.maxLayers} comma-separated values, got '${text}'`);
  }
  return items;
}

export function ostlRandomCaseArgs(argv: string[]): { json: unknown; out: string | undefined } {
  const args = parseArgs(
    argv,
    ["rule", "layers", "neuron", "loss", "reduction", "reset-grad", "seed", "nIn", "nOut", "T", "margin", "out"],
    ["no-bias", "json"],
  );
  if (args.positionals[0] !== "random" || args.positionals.length !== 1) throw new InputError("case", "expected the subcommand 'random'");
  const layers = list(flagString(args, "layers") ?? "12,10", "layers").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw new InputError("--layers", `expected layer sizes in [1, 4096], got '${s}'`);
    return n;
  });
  const neuron = list(flagString(args, "neuron") ?? "lif", "neuron").map((s) => {
    if (s !== "lif" && s !== "alif") throw new InputError("--neuron", `expected lif|alif (one, or one per layer), got '${s}'`);
    return s as NeuronKind;
  });
  const c = randomOstlCase({
    layers,
    neuron: neuron.length === 1 ? neuron[0]! : neuron,
    loss: flagChoice<LossKind>(args, "loss", ["mse", "ce"], "mse"),
    lossReduction: flagChoice<LossReduction>(args, "reduction", ["sum", "mean"], "sum"),
    resetGrad: flagChoice(args, "reset-grad", ["true", "false"] as const, "true") === "true",
    trainBias: !args.flags.has("no-bias"),
    seed: flagInt(args, "seed", 1, 0, 2 ** 53),
    nIn: flagInt(args, "nIn", 8, 1, 4096),
    nOut: flagInt(args, "nOut", 3, 1, 4096),
    T: flagInt(args, "T", 120, 1, 1_000_000),
    margin: flagNumber(args, "margin", 5e-4, 0, 1),
  });
  return { json: c, out: flagString(args, "out") };
}
