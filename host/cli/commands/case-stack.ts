// `edgeprop case random --rule decolle|ostl ...`: the flags of the layer-stack rules' random
// margin cases (host/rules/decolle/random.ts, host/rules/ostl/random.ts), read here so that the
// rules' own modules stay free of the CLI.
import { InputError } from "../../input/errors.ts";
import type { LossKind, LossReduction, NeuronKind } from "../../model/types.ts";
import { decolleRandomCase } from "../../rules/decolle/random.ts";
import { MAX_LAYERS, type DecolleCase, type DecolleLoss, type Surrogate, type TraceScale } from "../../rules/decolle/schema.ts";
import { randomOstlCase } from "../../rules/ostl/random.ts";
import { LIMITS } from "../../rules/ostl/schema.ts";
import { flagChoice, flagInt, flagNumber, flagString, parseArgs } from "../args.ts";

/** `edgeprop case random --rule decolle ...`: the case and where to write it. */
export const DECOLLE_CASE_USAGE =
  "edgeprop case random --rule decolle [--layers 12,10] [--nIn N] [--nOut N] [--T N] [--loss mse|smoothL1|ce] " +
  "[--surrogate box|sigmoid] [--trace-scale one|oneMinus|tau] [--reg LAMBDA] [--reduction sum|mean] [--burnin N] [--seed N] [--margin X] [--out FILE]";

export function decolleRandomCaseArgs(argv: string[]): { json: DecolleCase; out: string | undefined } {
  const args = parseArgs(
    argv,
    ["rule", "layers", "seed", "nIn", "nOut", "T", "loss", "surrogate", "trace-scale", "reg", "reduction", "burnin", "margin", "out"],
    ["json"],
  );
  if (args.positionals[0] !== "random" || args.positionals.length > 1) throw new InputError("case", "expected the subcommand 'random'");
  const layersFlag = flagString(args, "layers") ?? "12,10";
  const layers = layersFlag.split(",").map(Number);
  if (layers.length > MAX_LAYERS || layers.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) {
    throw new InputError("--layers", `expected 1 to ${MAX_LAYERS} comma-separated layer sizes in [1, 4096], got '${layersFlag}'`);
  }
  const T = flagInt(args, "T", 60, 1, 1_000_000);
  const json = decolleRandomCase({
    layers,
    seed: flagInt(args, "seed", 1, 0, 2 ** 53),
    nIn: flagInt(args, "nIn", 6, 1, 4096),
    nOut: flagInt(args, "nOut", 3, 1, 4096),
    T,
    loss: flagChoice<DecolleLoss>(args, "loss", ["mse", "smoothL1", "ce"], "mse"),
    surrogate: flagChoice<Surrogate>(args, "surrogate", ["box", "sigmoid"], "box"),
    traceScale: flagChoice<TraceScale>(args, "trace-scale", ["one", "oneMinus", "tau"], "one"),
    reg: flagNumber(args, "reg", 0, 0, 1e6),
    lossReduction: flagChoice<LossReduction>(args, "reduction", ["sum", "mean"], "sum"),
    burnin: flagInt(args, "burnin", Math.min(5, T - 1), 0, T - 1),
    margin: flagNumber(args, "margin", 5e-4, 0, 1),
  });
  return { json, out: flagString(args, "out") };
}

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
