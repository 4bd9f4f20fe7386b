// `edgeprop boards [--json]`: the board definitions (boards/*.json) and what each supports.
import { loadBoards } from "../../../boards/index.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG } from "../flags.ts";

const kib = (n: number): string => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${Math.round(n / 1024)} KiB`);

export const boardsCommand = defineCommand({
  name: "boards",
  summary: "list the supported boards (MCUs, emulated boards, the simulated board)",
  usage: "[--json]",
  description: "One row per boards/*.json: core, clock, RAM, flash, runtime, transport, flash method, support level.",
  flags: { json: JSON_FLAG },
  examples: ["edgeprop boards", "edgeprop boards --json | jq '.[].id'"],
  async main(args) {
    const boards = loadBoards();
    if (args.flags.has("json")) {
      process.stdout.write(JSON.stringify(boards, null, 2) + "\n");
      return 0;
    }
    const rows = boards.map((b) => [
      b.id,
      b.core + (b.fpu === "none" ? "" : `+${b.fpu}`),
      b.clockHz ? `${b.clockHz / 1e6} MHz` : "host",
      kib(b.ramBytes),
      kib(b.flashBytes),
      b.runtime,
      `${b.transport.kind}@${b.transport.baud}`,
      b.flash.method,
      b.support,
    ]);
    const head = ["id", "core", "clock", "ram", "flash", "runtime", "transport", "flash via", "support"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    process.stdout.write([line(head), ...rows.map(line)].join("\n") + "\n");
    return 0;
  },
});
