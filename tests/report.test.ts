// `edgeprop report`: a self-contained HTML page, opened in headless Debian chromium (driven
// through child_process, no npm browser package); the test asserts every chart was drawn by
// the page's own script and that the screenshot is not blank.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { forward } from "../host/reference/simulate.ts";
import { chartsInDom, dumpDom, findChromium, screenshot } from "../host/report/chromium.ts";
import { chartNames, decimate, renderReport, summariseConfig } from "../host/report/html.ts";
import { RunWriter, readRunDir, trajectorySample } from "../host/report/rundir.ts";
import { createTask, toCase } from "../host/tasks/index.ts";
import { reportCommand } from "../host/cli/commands/report.ts";
import { InputError } from "../host/input/errors.ts";
import { edgeprop } from "./helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "edgeprop-report-"));
const full = join(root, "full");
const bare = join(root, "bare");

/** A run directory as `edgeprop train` writes it: a real evidence-accumulation trial, synthetic curves. */
function writeFullRun(dir: string): void {
  const inst = createTask("evidence", 4, { cueSteps: 40, spacingSteps: 20, delaySteps: 100, recallSteps: 60, nRec: 40, nAdaptive: 20 });
  const w = new RunWriter(dir);
  w.writeRun({ task: "evidence", taskOptions: inst.options, seed: 4, rule: "eprop", feedback: "symmetric", board: "host", optimizer: { kind: "adam", lr: 0.005 }, iterations: 300, model: { ...inst.model }, metric: inst.metric });
  for (let i = 1; i <= 300; i++) {
    w.appendMetric({ iteration: i, loss: 40 * Math.exp(-i / 80) + 2 + Math.sin(i) * 0.5, accuracy: i > 150 ? 1 : i % 2, elapsedMs: i * 90 });
  }
  const c = toCase(inst, inst.trial(0));
  w.writeTrajectory(trajectorySample(c, forward(c), 300));
  w.writeSummary({ finalLoss: 2.1, iterations: 300, elapsedMs: 27000, metric: { name: "accuracy", value: 0.93, chance: 0.5, higherIsBetter: true, nTrials: 50, split: "test" } });
}

/** Minimal 8-bit RGB/RGBA PNG decoder (what chromium writes), enough to look at pixels. */
function decodePng(buf: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  expect(buf.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("ascii", off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8); // bit depth
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]!]!;
      expect(channels).toBeDefined();
      expect(data[12]).toBe(0); // no interlace
    } else if (type === "IDAT") idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const cur = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? px[y * stride + x - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels]! : 0;
      let v = cur;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, pixels: px };
}

beforeAll(() => {
  writeFullRun(full);
  const w = new RunWriter(bare);
  w.writeRun({ rule: "bptt", board: "sim", config: "run.json" });
  writeFileSync(join(bare, "metrics.jsonl"), [1, 2, 3].map((i) => JSON.stringify({ iteration: i, loss: 10 / i })).join("\n") + "\n");
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("edgeprop report", () => {
  it("writes a self-contained page with the run's config and board", () => {
    const r = edgeprop(["report", full, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.report).toBe(join(full, "report.html"));
    expect(out.charts).toEqual(["loss", "metrics", "raster-inputs", "raster-recurrent", "traces"]);
    const html = readFileSync(out.report, "utf8");
    // nothing is fetched: no external scripts, styles, images or fonts
    expect(html).not.toMatch(/<script[^>]+src=|<link\b|<img\b|@import|url\(/i);
    expect(html.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, "")).not.toMatch(/https?:\/\//);
    expect(html).toContain("edgeprop run: evidence · eprop · host");
    expect(html).toContain("test accuracy");
    expect(html).toContain("0.93 (chance 0.5)");
    expect(html).toMatch(/"board": "host"/);
    expect(html).toMatch(/"wIn"|"beta": "\[array 40\]"/); // big arrays are summarised, not dumped
  });

  it("renders every chart in headless chromium, and the screenshot is not blank", async () => {
    findChromium(); // a missing browser fails with the Debian package to install
    const file = join(full, "report.html");
    writeFileSync(file, renderReport(readRunDir(full)));
    const dom = await dumpDom(file);
    const charts = chartsInDom(dom);
    expect(charts.map((c) => c.name)).toEqual(chartNames(readRunDir(full)));
    for (const c of charts) {
      expect(c.error, `${c.name}: ${c.error}`).toBeUndefined();
      expect(c.rendered, c.name).toBe(true);
      expect(c.marks, c.name).toBeGreaterThan(0);
    }
    expect(dom).toContain('data-charts-rendered="5"');
    // the raster draws one tick per spike of the sample trial
    const traj = JSON.parse(readFileSync(join(full, "trajectory.json"), "utf8"));
    const spikes = (m: number[][]) => m.flat().reduce((a, b) => a + b, 0);
    expect(charts.find((c) => c.name === "raster-recurrent")!.marks).toBe(spikes(traj.z));
    expect(charts.find((c) => c.name === "raster-inputs")!.marks).toBe(spikes(traj.inputs));
    expect(dom).toMatch(/<path[^>]*class="series smooth"[^>]*>|<path[^>]*d="M[^"]{200,}"[^>]*class="series smooth"/);

    const png = decodePng(await screenshot(file, 1000, 1400));
    let dark = 0;
    const colours = new Set<number>();
    for (let i = 0; i < png.width * png.height; i++) {
      const r = png.pixels[i * png.channels]!;
      const g = png.pixels[i * png.channels + 1]!;
      const b = png.pixels[i * png.channels + 2]!;
      if (r + g + b < 600) dark++;
      colours.add((r << 16) | (g << 8) | b);
    }
    expect(png.width).toBe(1000);
    expect(dark / (png.width * png.height)).toBeGreaterThan(0.01); // text, axes, curves, spikes
    expect(colours.size).toBeGreaterThan(20); // blue/red curves, mask shading, grey axes
  }, 60_000);

  it("a run without trajectory or metrics beyond the loss still renders (loss chart only)", async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      expect(await reportCommand.run([bare, "--check"])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join("")).toMatch(/charts: loss; all rendered in chromium/);
    const html = readFileSync(join(bare, "report.html"), "utf8");
    expect(html).toContain("No trajectory.json");
    // a run that has not finished its first iteration yet
    writeFileSync(join(bare, "metrics.jsonl"), "");
    expect(chartNames(readRunDir(bare))).toEqual([]);
    expect(renderReport(readRunDir(bare))).toContain("no iteration recorded yet");
  }, 60_000);

  it("bad run directories are named precisely (InputError, exit 2 in the CLI)", async () => {
    const report = (argv: string[]) => reportCommand.run(argv);
    await expect(report([join(root, "nope")])).rejects.toThrow(/nope: run directory not found/);
    const broken = join(root, "broken");
    new RunWriter(broken).writeRun({ rule: "eprop", board: "host" });
    writeFileSync(join(broken, "metrics.jsonl"), '{"iteration": 1, "loss": 2}\n{"iteration": 2}\n');
    await expect(report([broken])).rejects.toThrow(InputError);
    await expect(report([broken])).rejects.toThrow(/metrics\.jsonl:2: expected an object with numeric iteration and loss/);
    writeFileSync(join(broken, "metrics.jsonl"), "");
    writeFileSync(join(broken, "run.json"), '{"rule": "eprop"}');
    await expect(report([broken])).rejects.toThrow(/run\.json: board: expected a string/);
    await expect(report([])).rejects.toThrow(/RUN_DIR: expected exactly one run directory/);
  });

  it("helpers: decimation keeps long curves small, config summary hides big arrays", () => {
    const x = Array.from({ length: 10000 }, (_, i) => i);
    const d = decimate(x, x.map((v) => 2 * v), 100);
    expect(d.x.length).toBe(100);
    expect(d.y[0]).toBeCloseTo(2 * d.x[0]!, 9);
    expect(summariseConfig({ a: [1, 2], w: Array.from({ length: 50 }, () => [1, 2, 3, 4]) })).toEqual({ a: [1, 2], w: "[array 50×4]" });
  });
});
