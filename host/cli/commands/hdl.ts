// `edgeprop hdl generate|lint|sim|report --config hdl.json`: the FPGA learning core (fpga/).
//   generate: write the Verilog, init files and testbench to --out DIR
//   lint:     verilator --lint-only -Wall on the generated RTL
//   sim:      random weights/spikes/learning signals through iverilog and the golden model, compared bit for bit
//   report:   fit check, then yosys synth_ice40 + nextpnr-ice40: LUTs, BRAM, SPRAM, DSP, Fmax
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { derive, readHdlConfig } from "../../../fpga/config.ts";
import { writeDesign } from "../../../fpga/generate/index.ts";
import { runGolden } from "../../../fpga/golden.ts";
import { lintDesign } from "../../../fpga/lint.ts";
import { checkFit, cyclesPerStep, estimateMemory, partByName } from "../../../fpga/parts.ts";
import { IverilogSim } from "../../../fpga/sim.ts";
import { firstDifference, randomStimulus } from "../../../fpga/stimulus.ts";
import { formatReport, synthesise } from "../../../fpga/synth.ts";
import { flagInt, flagNumber, flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

const SUBS = ["generate", "lint", "sim", "report"] as const;

export const hdlCommand = defineCommand({
  name: "hdl",
  summary: "generate, lint, simulate (vs the golden model) or synthesise the FPGA e-prop core",
  usage: "generate|lint|sim|report --config hdl.json [options]",
  description:
    "generate: write the Verilog, init files and testbench to --out DIR\n" +
    "lint:     verilator --lint-only -Wall on the generated RTL\n" +
    "sim:      random weights/spikes/learning signals through iverilog and the golden model, compared bit for bit\n" +
    "report:   fit check, then yosys synth_ice40 + nextpnr-ice40: LUTs, BRAM, SPRAM, DSP, Fmax",
  flags: {
    config: { type: "string", value: "FILE", description: "an hdl.json (fpga/README.md; required)" },
    out: { type: "string", value: "DIR", description: "generate: output folder (required)" },
    part: { type: "string", value: "up5k|up3k|hx8k|hx1k", default: "up5k", description: "generate/report: the iCE40 part to fit" },
    steps: { type: "string", value: "N", default: "100", description: "sim: time steps" },
    seed: { type: "string", value: "N", default: "1", description: "sim: stimulus seed" },
    freq: { type: "string", value: "MHZ", default: "24", description: "report: target clock" },
    keep: { type: "string", value: "DIR", description: "report: keep the synthesis files here" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop hdl generate --config fpga/examples/small-recurrent.json --out rtl", "edgeprop hdl sim --config fpga/examples/small-recurrent.json --json"],
  async main(args) {
    const [sub, ...extra] = args.positionals;
    if (!SUBS.includes(sub as (typeof SUBS)[number]) || extra.length) throw new InputError("hdl", `expected one subcommand of ${SUBS.join("|")}`);
    const configPath = flagString(args, "config");
    if (configPath === undefined) throw new InputError("--config", "expected the path of an hdl.json");
    const d = derive(readHdlConfig(configPath));
    const json = args.flags.has("json");
    const print = (obj: unknown, text: string) => process.stdout.write((json ? JSON.stringify(obj) : text) + "\n");

    if (sub === "generate") {
      const out = flagString(args, "out");
      if (out === undefined) throw new InputError("--out", "expected an output directory");
      const partName = flagString(args, "part");
      if (partName !== undefined) checkFit(d, partByName(partName));
      const files = writeDesign(d, out);
      const mem = estimateMemory(d);
      print(
        { out, files, synapses: d.nSyn, memory: mem, cycles: cyclesPerStep(d) },
        `wrote ${files.length} files to ${out} (${d.nSyn} synapses; ${mem.bram} BRAM + ${mem.spram} SPRAM blocks estimated)`,
      );
      return 0;
    }
    if (sub === "lint") {
      const dir = mkdtempSync(join(tmpdir(), "edgeprop-lint-"));
      try {
        writeDesign(d, dir);
        const r = await lintDesign(d, dir);
        print(r, r.ok ? "verilator --lint-only -Wall: clean" : r.warnings.join("\n"));
        return r.ok ? 0 : 1;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (sub === "sim") {
      const steps = flagInt(args, "steps", 100, 1, 1_000_000);
      const seed = flagInt(args, "seed", 1, 0, 2 ** 32 - 1);
      const stim = randomStimulus(d, { steps, seed });
      const sim = await IverilogSim.compile(d);
      try {
        const t0 = Date.now();
        const hw = await sim.run(stim);
        const ms = Date.now() - t0;
        const gold = runGolden(d, stim);
        const diff = firstDifference(hw as unknown as Record<string, unknown>, gold as unknown as Record<string, unknown>, ["z", "v", "a", "e", "w"]);
        const spikes = gold.z.flat().reduce((a, b) => a + b, 0);
        print(
          { identical: diff === null, difference: diff, steps, synapses: d.nSyn, spikes, cycles: hw.cycles, simMs: ms },
          diff === null
            ? `iverilog and golden model bit-identical over ${steps} steps (${d.nSyn} synapses, ${spikes} spikes, ${hw.cycles} cycles, ${ms} ms)`
            : `MISMATCH: ${diff}`,
        );
        return diff === null ? 0 : 1;
      } finally {
        sim.dispose();
      }
    }
    // report
    const part = partByName(flagString(args, "part") ?? "up5k");
    const freq = flagNumber(args, "freq", 24, 1, 500);
    const r = await synthesise(d, part, freq, flagString(args, "keep"));
    print(r, formatReport(r));
    return 0;
  },
});
