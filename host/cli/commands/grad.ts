// `edgeprop grad CASE.json --rule bptt|eprop --backend NAME`: a case's loss and gradients as JSON.
import { readCaseFile } from "../../case/parse.ts";
import { backends } from "../../backends/index.ts";
import type { Rule } from "../../model/types.ts";
import { flagChoice, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

const BACKEND_FLAGS = ["build", "port", "board", "fault-rate", "config"] as const;

export const gradCommand: Command = {
  name: "grad",
  summary: "compute a hil-case/1's loss and gradients (bptt | eprop) on a backend",
  usage: "edgeprop grad CASE.json [--rule bptt|eprop] [--backend host|wasm|sim|qemu|fpga-sim] [--build scalar|simd] [--port PATH] [--pretty]",
  async run(argv) {
    const args = parseArgs(argv, ["rule", "backend", ...BACKEND_FLAGS], ["json", "pretty"]);
    const [file, ...extra] = args.positionals;
    if (file === undefined || extra.length) throw new InputError("CASE.json", "expected exactly one case file");
    const rule = flagChoice<Rule>(args, "rule", ["bptt", "eprop"], "eprop");
    const names = backends.map((b) => b.name);
    const backend = backends.find((b) => b.name === flagChoice(args, "backend", names, "host"))!;
    if (!backend.rules.includes(rule)) {
      throw new InputError("--rule", `backend '${backend.name}' computes ${backend.rules.join("|")}, not '${rule}'`);
    }
    const c = readCaseFile(file);
    const flags: Record<string, string> = {};
    for (const f of BACKEND_FLAGS) {
      const v = args.flags.get(f);
      if (typeof v === "string") flags[f] = v;
    }
    const result = await backend.grad(c, { rule, flags });
    process.stdout.write(JSON.stringify(result, null, args.flags.has("pretty") ? 2 : undefined) + "\n");
    return 0;
  },
};
