// `edgeprop grad CASE.json --rule bptt|eprop --backend NAME`: a case's loss and gradients as JSON.
// `--port PATH` runs the case on the board at that port (any board: sim, QEMU, an MCU).
import { readCaseFile } from "../../case/parse.ts";
import { backends } from "../../backends/index.ts";
import type { Rule } from "../../model/types.ts";
import { flagChoice, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { BOARD_LINK_FLAGS, FAULT_FLAGS, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

const BACKEND_FLAGS = ["build", "port", "board", "fault-rate", "config", "timeout"] as const;
/** Backends that reach a board over a serial line (and so take --port, --timeout, --fault-rate). */
const SERIAL_BACKENDS = ["sim", "qemu"];

export const gradCommand = defineCommand({
  name: "grad",
  summary: "compute a hil-case/1's loss and gradients (bptt | eprop) on a backend",
  usage: "CASE.json [--rule bptt|eprop] [--backend host|wasm|sim|qemu|fpga-sim] [--port PATH] [options]",
  description:
    "Prints {loss, grads: {wIn, wRec, wOut, bOut}} as one JSON line on stdout. Backends: host (the float64\n" +
    "reference), wasm (the device kernels in Node), sim (the simulated board, started here), qemu (the\n" +
    "firmware AOT-compiled for a Cortex-M, booted in QEMU), fpga-sim (the generated Verilog core under\n" +
    "iverilog). --port runs the case on the board at that port, whatever it is (implies --backend sim).",
  flags: {
    rule: { type: "string", value: "bptt|eprop", default: "eprop", description: "learning rule (device backends compute e-prop)" },
    backend: { type: "string", value: "NAME", default: "host, or sim with --port", description: `where to compute: ${backends.map((b) => b.name).join("|")}` },
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
    const rule = flagChoice<Rule>(args, "rule", ["bptt", "eprop"], "eprop");
    const names = backends.map((b) => b.name);
    const port = flagString(args, "port");
    const backend = backends.find((b) => b.name === flagChoice(args, "backend", names, port === undefined ? "host" : "sim"))!;
    if (!SERIAL_BACKENDS.includes(backend.name)) {
      const f = (["port", "timeout", "fault-rate"] as const).find((x) => args.flags.has(x));
      if (f) throw new InputError(`--${f}`, `backend '${backend.name}' does not reach a board; --${f} is for ${SERIAL_BACKENDS.join("|")}`);
    }
    if (!backend.rules.includes(rule)) {
      throw new InputError("--rule", `backend '${backend.name}' computes ${backend.rules.join("|")}, not '${rule}'`);
    }
    const c = readCaseFile(file);
    const flags: Record<string, string> = {};
    for (const f of BACKEND_FLAGS) {
      const v = args.flags.get(f);
      if (typeof v === "string") flags[f] = v;
    }
    const result = await backend.grad(c, { rule, flags, say });
    process.stdout.write(JSON.stringify(result, null, args.flags.has("pretty") ? 2 : undefined) + "\n");
    return 0;
  },
});
