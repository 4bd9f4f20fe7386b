// `edgeprop report RUN_DIR`: writes RUN_DIR/report.html, a self-contained page (loss curve,
// metrics with chance level, spike rasters, readout vs target, config and board). With
// --check it also opens the page in headless Chromium and fails unless every chart rendered.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chartsInDom, dumpDom } from "../../report/chromium.ts";
import { chartNames, renderReport } from "../../report/html.ts";
import { RUN_FILES, isOutputDir, readRunDir } from "../../report/rundir.ts";
import { flagString } from "../args.ts";
import { defineCommand } from "../command.ts";
import { JSON_FLAG } from "../flags.ts";
import { InputError } from "../../input/errors.ts";

export const reportCommand = defineCommand({
  name: "report",
  summary: "write a self-contained HTML report of a training run directory",
  usage: "RUN_DIR [--out FILE] [--check] [--json]",
  description: "One page, no network access: loss (raw and smoothed), metrics vs chance, spike rasters, readout vs target.",
  flags: {
    out: { type: "string", value: "FILE", default: "RUN_DIR/report.html", description: "where to write the page" },
    check: { type: "boolean", description: "open the page in headless Chromium and fail unless every chart rendered" },
    json: JSON_FLAG,
  },
  examples: ["edgeprop report runs/evidence", "edgeprop report runs/evidence --out /tmp/r.html --check"],
  async main(args) {
    const dir = args.positionals[0];
    if (!dir || args.positionals.length > 1) throw new InputError("RUN_DIR", "expected exactly one run directory");
    const run = readRunDir(dir);
    const given = flagString(args, "out");
    // Only an edgeprop run folder gets a file written into it; elsewhere, say where with --out.
    if (given === undefined && !isOutputDir(dir, "run")) throw new InputError("RUN_DIR", `${dir} is not an edgeprop run folder; write the report elsewhere with --out FILE`);
    const html = renderReport(run);
    const out = given ?? join(dir, RUN_FILES.report);
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
});
