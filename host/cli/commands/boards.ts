// `edgeprop boards [--json]`: the board definitions (boards/*.json) and what each supports.
import { loadBoards } from "../../../boards/index.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG } from "../flags.ts";

/**
 * Library code that no command reaches yet: tested against simulated devices only, never tried
 * on hardware. Listed under the table so that nobody takes it for a feature
 * (tests/import-boundaries.test.ts checks that each is still unreached, and that nothing else is).
 */
export const UNTRIED_LIBRARY = [
  { modules: ["host/flash/dfu.ts"], what: "USB DFU 1.1 / DfuSe download (the STM32 system bootloader): no board flashes with it; 'flash' uses the ST-LINK drive" },
  { modules: ["host/transport/usb-bulk.ts", "host/usb/open.ts", "host/usb/link.ts"], what: "USB bulk transport (vendor interface via the 'usb' package): no firmware speaks the protocol over USB yet; boards talk over UART" },
] as const;

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
    const untried = UNTRIED_LIBRARY.map((u) => `  ${u.modules[0]}: ${u.what}`);
    process.stdout.write([line(head), ...rows.map(line), "", "Library code not yet tried on hardware (no command uses it):", ...untried].join("\n") + "\n");
    return 0;
  },
});
