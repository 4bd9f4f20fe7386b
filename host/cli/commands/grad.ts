// `edgeprop grad CASE.json --rule NAME --backend NAME`: a case's loss and gradients as JSON. The
// rule (host/rules/) reads the case and says what is computed; the backend (host/backends/)
// where: `host` the rule's float64 reference, `wasm` its device kernels in Node, `sim`/`qemu`
// (or `--port` alone) a board whose firmware carries the rule, `fpga-sim` the generated Verilog (e-prop).
import { backends } from "../../backends/index.ts";
import { ruleOn } from "../../backends/backend.ts";
import { readJsonFile } from "../../input/fields.ts";
import { parseCaseFor, rules } from "../../rules/index.ts";
import { flagChoice } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, FAULT_FLAGS, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

const BACKEND_FLAGS = ["build", "port", "board", "fault-rate", "config", "timeout"] as const;
const RULES = rules.map((r) => r.name);
const BACKENDS = backends.map((b) => b.name);
/** Backends that talk to a board over a serial port (and so take --port, --timeout, --fault-rate). */
const BOARD_BACKENDS = ["sim", "qemu"];

export const gradCommand = defineCommand({
  name: "grad",
  summary: `compute a case's loss and gradients (${RULES.join(" | ")}) on a backend`,
  usage: `CASE.json [--rule NAME] [--backend NAME] [--port PATH] [options]`,
  description:
    "Prints the rule's {loss, grads, ...} as one JSON line on stdout. Backends: host (the rule's float64\n" +
    "reference), wasm (its device kernels in Node), sim (the simulated board, started here), qemu (the\n" +
    "firmware AOT-compiled for a Cortex-M, booted in QEMU), fpga-sim (the generated Verilog core under\n" +
    "iverilog; e-prop). --port runs the case on the board at that port, whatever it is (implies --backend sim).",
  flags: {
    rule: { type: "string", value: RULES.join("|"), default: "eprop", description: "learning rule (host/rules/README.md)" },
    backend: { type: "string", value: "NAME", default: "host, or sim with --port", description: `where to compute: ${BACKENDS.join("|")}` },
    build: { type: "string", value: "scalar|simd", default: "scalar", description: "wasm backend: kernel build" },
    board: { type: "string", value: "BOARD", default: "qemu-mps2-an386 (qemu)", description: "qemu backend: which emulated board" },
    config: { type: "string", value: "FILE", description: "fpga-sim backend: an hdl.json (widths, mode, memory)" },
    ...BOARD_LINK_FLAGS,
    "fault-rate": FAULT_FLAGS["fault-rate"]!,
    pretty: { type: "boolean", description: "indent the JSON" },
    json: { type: "boolean", default: "on (grad always prints JSON)", description: "accepted for symmetry with the other verbs" },
  },
  examples: [
    "edgeprop grad case.json --rule bptt",
    "edgeprop grad case.json --backend sim --fault-rate 1e-3",
    "edgeprop grad case.json --port /dev/ttyACM0 --timeout 10",
  ],
  async main(args) {
    const [file, ...extra] = args.positionals;
    if (file === undefined || extra.length) throw new InputError("CASE.json", "expected exactly one case file");
    const name = flagChoice(args, "rule", RULES, "eprop");
    // `--port` alone means a board at that port (whatever firmware it runs: HELLO says)
    const port = typeof args.flags.get("port") === "string";
    const backend = backends.find((b) => b.name === flagChoice(args, "backend", BACKENDS, port ? "sim" : "host"))!;
    if (!BOARD_BACKENDS.includes(backend.name)) {
      if (port) throw new InputError("--port", `a board's serial port, for --backend ${BOARD_BACKENDS.join("|")}; backend '${backend.name}' runs no board`);
      const f = (["timeout", "fault-rate"] as const).find((x) => args.flags.has(x));
      if (f) throw new InputError(`--${f}`, `for --backend ${BOARD_BACKENDS.join("|")}; backend '${backend.name}' runs no board`);
    }
    const rule = ruleOn(backend, name); // before the case is read: a rule the backend cannot run is refused first
    const c = parseCaseFor(rule, readJsonFile(file), file);
    const flags: Record<string, string> = {};
    for (const f of BACKEND_FLAGS) {
      const v = args.flags.get(f);
      if (typeof v === "string") flags[f] = v;
    }
    const result = await backend.grad(c, { rule: rule.name, flags, say });
    process.stdout.write(JSON.stringify(result, null, args.flags.has("pretty") ? 2 : undefined) + "\n");
    return 0;
  },
});
