// `edgeprop demo`: the first thing a new user runs. Until boards land it generates a case,
// computes BPTT and e-prop on the float64 reference and prints loss and gradient norms.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomCase } from "../../case/random.ts";
import type { Grads } from "../../model/types.ts";
import { bpttGrad } from "../../reference/bptt.ts";
import { epropGrad } from "../../reference/eprop.ts";
import { flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";

function norms(g: Grads): Record<string, number> {
  const n = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + b * b, 0));
  return { wIn: n(g.wIn.flat()), wRec: n(g.wRec.flat()), wOut: n(g.wOut.flat()), bOut: n(g.bOut) };
}

export const demoCommand: Command = {
  name: "demo",
  summary: "run a small end-to-end example and write its results to ./edgeprop-demo",
  usage: "edgeprop demo [--out DIR] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["out"], ["json"]);
    const out = flagString(args, "out") ?? "edgeprop-demo";
    const c = randomCase({ neuron: "alif", loss: "mse", seed: 7, T: 200 });
    const bptt = bpttGrad(c);
    const eprop = epropGrad(c);
    const result = { case: c.name, loss: bptt.loss, gradNorms: { bptt: norms(bptt.grads), eprop: norms(eprop.grads) } };
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "case.json"), JSON.stringify(c));
    writeFileSync(join(out, "result.json"), JSON.stringify(result, null, 2));
    if (args.flags.has("json")) process.stdout.write(JSON.stringify(result) + "\n");
    else {
      process.stdout.write(`case ${c.name}: loss ${result.loss.toFixed(4)}\n`);
      for (const rule of ["bptt", "eprop"] as const) {
        const g = result.gradNorms[rule];
        process.stdout.write(`  ${rule.padEnd(5)} |grad| wIn ${g.wIn.toExponential(3)} wOut ${g.wOut.toExponential(3)} bOut ${g.bOut.toExponential(3)}\n`);
      }
      process.stdout.write(`results written to ${out}/\n`);
    }
    return 0;
  },
};
