// What a report's figures say they are (issue 16, defect 14): the headline test score and the
// test curve name the number of held-out trials each used, the curve ends with the final
// evaluation, and the raw and smoothed loss lines are labelled — in the page Chromium draws.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dumpDom } from "../host/report/chromium.ts";
import { renderReport } from "../host/report/html.ts";
import { RunWriter, readRunDir } from "../host/report/rundir.ts";

describe("report labels", () => {
  it("names trial counts, ends the test curve with the final evaluation, labels raw and smoothed loss", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-labels-"));
    const w = new RunWriter(dir);
    w.writeRun({ task: "evidence", rule: "eprop", board: "sim", iterations: 40, metric: { name: "accuracy", higherIsBetter: true, chance: 0.5 } });
    for (let i = 1; i <= 40; i++) {
      w.appendMetric({ iteration: i, loss: 10 / i + (i % 3), ...(i % 10 === 0 && i < 40 ? { test: 0.5 + i / 100, testTrials: 10 } : {}) });
    }
    w.writeSummary({ finalLoss: 1.2, iterations: 40, metric: { name: "accuracy", value: 0.875, chance: 0.5, higherIsBetter: true, nTrials: 200, split: "test" } });
    const html = renderReport(readRunDir(dir));
    expect(html).toContain("<span>test accuracy on 200 trials</span><b>0.875 (chance 0.5)</b>");
    const page = join(dir, "report.html");
    writeFileSync(page, html);
    const dom = await dumpDom(page);
    expect(dom).toContain(">raw loss (per iteration)</text>");
    expect(dom).toMatch(/>smoothed \(moving mean of \d+\)<\/text>/);
    expect(dom).toContain(">test (10 trials per point); final: 0.875 on 200 trials</text>");
    expect(dom).toMatch(/<circle[^>]*class="final"/);
    expect(dom).toMatch(/<path[^>]*class="series final"/);
  });
});
