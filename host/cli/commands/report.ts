// `edgeprop report RUN_DIR`: writes RUN_DIR/report.html, a self-contained page (loss curve,
// metrics with chance level, spike rasters, readout vs target, config and board). With
// --check it also opens the page in headless Chromium and fails unless every chart rendered.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chartsInDom, dumpDom } from "../../report/chromium.ts";
import { chartNames, renderReport } from "../../report/html.ts";
import { RUN_FILES, readRunDir } from "../../report/rundir.ts";
import { flagString, parseArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InputError } from "../../input/errors.ts";

export const reportCommand: Command = {
  name: "report",
  summary: "write a self-contained HTML report of a training run directory",
  usage: "edgeprop report RUN_DIR [--out FILE] [--check] [--json]",
  async run(argv) {
    const args = parseArgs(argv, ["out"], ["check", "json"]);
    const dir = args.positionals[0];
    if (!dir || args.positionals.length > 1) throw new InputError("RUN_DIR", "expected exactly one run directory");
    const run = readRunDir(dir);
    const html = renderReport(run);
    const out = flagString(args, "out") ?? join(dir, RUN_FILES.report);
    writeFileSync(out, html);
    const charts = chartNames(run);
    let check: ReturnType<typeof chartsInDom> | undefined;
    if (args.flags.has("check")) {
      check = chartsInDom(await dumpDom(out));
      const bad = charts.filter((n) => !check!.some((c) => c.name === n && c.rendered && c.marks > 0));
      if (bad.length) {
        process.stderr.write(`edgeprop report: charts not rendered in chromium: ${bad.join(", ")}\n`);
        return 1;
      }
    }
    if (args.flags.has("json")) process.stdout.write(JSON.stringify({ report: out, bytes: Buffer.byteLength(html), charts, check }) + "\n");
    else process.stdout.write(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB; charts: ${charts.join(", ")}${check ? "; all rendered in chromium" : ""})\n`);
    return 0;
  },
};
