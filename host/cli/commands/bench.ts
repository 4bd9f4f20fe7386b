// `edgeprop bench` (`npm run bench`): runs every benchmark section in one process and writes
// BENCHMARKS.md, so every ratio in it was measured side by side on the same machine state.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { sections } from "../../../bench/sections.ts";
import { flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG, say } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

export const benchCommand = defineCommand({
  name: "bench",
  summary: "run the benchmarks and write BENCHMARKS.md (medians and ratios from one run)",
  usage: "[--only NAME[,NAME]] [--out FILE] [--json]",
  description: `Sections: ${sections.map((s) => s.name).join(", ")}. Progress on stderr; the file name on stdout.`,
  flags: {
    only: { type: "string", value: "NAME[,NAME]", default: "every section", description: "run only these sections" },
    out: { type: "string", value: "FILE", default: "BENCHMARKS.md", description: "where to write the tables (relative to the current folder)" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop bench", `edgeprop bench --only ${sections[0]?.name ?? "NAME"} --out /tmp/bench.md`],
  async main(args) {
    const only = flagString(args, "only")?.split(",");
    const chosen = only ? sections.filter((s) => only.includes(s.name)) : sections;
    if (only && chosen.length !== only.length) {
      throw new InputError("--only", `expected section names from ${sections.map((s) => s.name).join(", ")}`);
    }
    const out = flagString(args, "out") ?? "BENCHMARKS.md";
    const parts: string[] = [];
    for (const s of chosen) {
      say(`bench: ${s.name}`);
      parts.push(await s.run(say));
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
});
