// `edgeprop grad CASE.json --rule NAME --backend NAME`: a case's loss and gradients as JSON. The
// rule (host/rules/) reads the case and says what is computed; the backend (host/backends/)
// where: `host` the rule's float64 reference, `wasm` its device kernels in Node, `sim`/`qemu`
// (or `--port` alone) a board whose firmware carries the rule, `fpga-sim` the generated Verilog (e-prop).
import { backends } from "../../backends/index.ts";
import { ruleOn } from "../../backends/backend.ts";
import { readJsonFile } from "../../input/fields.ts";
import { parseCaseFor, rules } from "../../rules/index.ts";
import { flagChoice, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

const BACKEND_FLAGS = ["build", "port", "board", "fault-rate", "config"] as const;
const RULES = rules.map((r) => r.name);
const BACKENDS = backends.map((b) => b.name);
/** Backends that talk to a board over a serial port. */
const BOARD_BACKENDS = ["sim", "qemu"];

export const gradCommand: Command = {
  name: "grad",
  summary: `compute a case's loss and gradients (${RULES.join(" | ")}) on a backend`,
  usage: `edgeprop grad CASE.json [--rule ${RULES.join("|")}] [--backend ${BACKENDS.join("|")}] [--build scalar|simd] [--port PATH] [--pretty]`,
  async run(argv) {
    const args = parseArgs(argv, ["rule", "backend", ...BACKEND_FLAGS], ["json", "pretty"]);
    const [file, ...extra] = args.positionals;
    if (file === undefined || extra.length) throw new InputError("CASE.json", "expected exactly one case file");
    const name = flagChoice(args, "rule", RULES, "eprop");
    // `--port` alone means a board at that port (whatever firmware it runs: HELLO says)
    const port = typeof args.flags.get("port") === "string";
    const backend = backends.find((b) => b.name === flagChoice(args, "backend", BACKENDS, port ? "sim" : "host"))!;
    if (port && !BOARD_BACKENDS.includes(backend.name)) throw new InputError("--port", `a board's serial port, for --backend ${BOARD_BACKENDS.join("|")}; backend '${backend.name}' runs no board`);
    const rule = ruleOn(backend, name); // before the case is read: a rule the backend cannot run is refused first
    const c = parseCaseFor(rule, readJsonFile(file), file);
    const flags: Record<string, string> = {};
    for (const f of BACKEND_FLAGS) {
      const v = args.flags.get(f);
      if (typeof v === "string") flags[f] = v;
    }
    const result = await backend.grad(c, { rule: rule.name, flags });
    process.stdout.write(JSON.stringify(result, null, args.flags.has("pretty") ? 2 : undefined) + "\n");
    return 0;
  },
};
