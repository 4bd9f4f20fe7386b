// `edgeprop bench` (`npm run bench`): runs every benchmark section in one process and writes
// BENCHMARKS.md, so every ratio in it was measured side by side on the same machine state.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { sections } from "../../../bench/sections.ts";
import { flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

export const benchCommand: Command = {
  name: "bench",
  summary: "run the benchmarks and write BENCHMARKS.md (medians and ratios from one run)",
  usage: "edgeprop bench [--only NAME[,NAME]] [--out FILE] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["only", "out"], ["json"]);
    const only = flagString(args, "only")?.split(",");
    const chosen = only ? sections.filter((s) => only.includes(s.name)) : sections;
    if (only && chosen.length !== only.length) {
      throw new InputError("--only", `expected section names from ${sections.map((s) => s.name).join(", ")}`);
    }
    const out = flagString(args, "out") ?? "BENCHMARKS.md";
    const log = (line: string) => process.stderr.write(line + "\n");
    const parts: string[] = [];
    for (const s of chosen) {
      log(`bench: ${s.name}`);
      parts.push(await s.run(log));
    }
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const header = [
      "# edgeprop benchmarks",
      "",
      `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (${cpu}, ${cpus().length} cores, Node ${process.version}).`,
      "Every table is measured in one run, side by side; times are medians of repeats, and ratios are",
      "what to quote — absolute numbers move with the machine.",
      "",
    ].join("\n");
    writeFileSync(out, header + "\n" + parts.join("\n\n") + "\n");
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ out, sections: chosen.map((s) => s.name) }) + "\n");
    else process.stdout.write(`wrote ${out}\n`);
    return 0;
  },
};
