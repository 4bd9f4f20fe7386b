// `edgeprop ports [--json]`: the serial ports on this machine (serialport's list), each matched
// by its USB vendor:product id against the `usb` ids of boards/*.json — like `probe-rs list` or
// `pio device list`: plug a board in, see which port it is.
import { loadBoards } from "../../../boards/index.ts";
import { listPorts, matchPorts } from "../../transport/port-list.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG } from "../flags.ts";

export const portsCommand = defineCommand({
  name: "ports",
  summary: "list serial ports and the boards whose USB ids they match",
  usage: "[--json]",
  description:
    "Lists the serial ports serialport finds (USB-serial bridges, USB CDC, on-board debuggers) with their\n" +
    "USB vendor:product id, and names the boards of `edgeprop boards` whose `usb` ids match. Use the path\n" +
    "with --port. Pseudo-terminals (edgeprop sim, QEMU) are not listed: those commands print theirs.",
  flags: { json: JSON_FLAG },
  examples: ["edgeprop ports", "edgeprop ports --json | jq -r '.[] | select(.boards != []) | .path'"],
  async main(args) {
    const rows = matchPorts(await listPorts(), loadBoards());
    if (args.flags.has("json")) {
      process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
      return 0;
    }
    if (rows.length === 0) {
      process.stdout.write("no serial ports found\n");
      return 0;
    }
    const table = rows.map((r) => [r.path, r.usb ?? "-", r.manufacturer ?? "-", r.boards.map((b) => (b.role === "serial" ? b.id : `${b.id} (${b.role})`)).join(", ") || "-"]);
    const head = ["port", "usb id", "manufacturer", "board"];
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    process.stdout.write([line(head), ...table.map(line)].join("\n") + "\n");
    return 0;
  },
});
