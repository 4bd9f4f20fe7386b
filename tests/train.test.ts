// MODEL.md's training loop on the host reference: JSON lines, the Adam/GD formulas, exact
// resumption after the host is killed mid-run, and bad run configs.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomCase } from "../host/case/random.ts";
import { applyUpdate, newOptimizerState, parseOptimizer } from "../host/train/optimizer.ts";
import { edgeprop, ROOT } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-train-"));

function runConfig(name: string, extra: Record<string, unknown>, caseOpts = {}): string {
  const c = randomCase({ seed: 3, T: 60, nIn: 6, nRec: 10, nOut: 2, ...caseOpts });
  const c2 = randomCase({ seed: 4, T: 60, nIn: 6, nRec: 10, nOut: 2, ...caseOpts });
  const { format: _f, ...body } = c;
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ ...body, rule: "eprop", optimizer: { kind: "adam", lr: 0.01 }, iterations: 12, trials: [c, c2].map(({ inputs, targets, mask }) => ({ inputs, targets, mask })), ...extra }));
  return path;
}

describe("optimizers follow MODEL.md", () => {
  it("adam (TensorFlow form) over two steps", () => {
    const cfg = parseOptimizer({ kind: "adam", lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8 });
    const st = newOptimizerState();
    const w = { a: [1, -2] };
    applyUpdate(cfg, st, w, { a: [0.5, -1] }, new Set());
    // n = 1: m = 0.1 g, v = 0.01 g^2, lr_t = 0.1 sqrt(0.01)/0.1 = 0.1 -> w -= 0.1 * 0.1g / (0.1|g| + eps)
    expect(w.a[0]).toBeCloseTo(1 - 0.1 * (0.05 / (0.05 + 1e-8)), 14);
    applyUpdate(cfg, st, w, { a: [0.5, -1] }, new Set());
    const m = 0.9 * 0.05 + 0.1 * 0.5;
    const v = 0.99 * 0.0025 + 0.01 * 0.25;
    const lrT = (0.1 * Math.sqrt(1 - 0.99 ** 2)) / (1 - 0.9 ** 2);
    expect(w.a[0]).toBeCloseTo(1 - 0.1 * (0.05 / (0.05 + 1e-8)) - (lrT * m) / (Math.sqrt(v) + 1e-8), 14);
    expect(st.step).toBe(2);
  });

  it("gd with clipping", () => {
    const cfg = parseOptimizer({ kind: "gd", lr: 1, wMin: -1, wMax: 1 });
    const w = { wIn: [0.5, 0.5, 0.5], bOut: [0.5] };
    applyUpdate(cfg, newOptimizerState(), w, { wIn: [-2, 0.25, 2], bOut: [-2] }, new Set(["wIn"]));
    expect(w.wIn).toEqual([1, 0.25, -1]);
    expect(w.bOut).toEqual([2.5]);
  });
});

describe("edgeprop train --config on the host reference", () => {
  it("prints one JSON object per iteration and lowers the loss", () => {
    const r = edgeprop(["train", "--config", runConfig("basic", { iterations: 30, trials: undefined }), "--out", join(dir, "basic"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((x) => x.iteration)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(rows[29].loss).toBeLessThan(rows[0].loss * 0.8);
    const params = JSON.parse(readFileSync(join(dir, "basic", "params.json"), "utf8"));
    expect(params.wIn).toHaveLength(10);
  });

  it("a host killed mid-run resumes to the same weights as an uninterrupted run", async () => {
    const cfg = runConfig("resume", { iterations: 40 }, { T: 150, nRec: 30 });
    const clean = edgeprop(["train", "--config", cfg, "--out", join(dir, "clean"), "--json", "--checkpoint-every", "3"]);
    expect(clean.code, clean.stderr).toBe(0);

    const killedDir = join(dir, "killed");
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "train", "--config", cfg, "--out", killedDir, "--json", "--checkpoint-every", "3"], { cwd: ROOT });
      let lines = 0;
      child.stdout.on("data", (d: Buffer) => {
        lines += d.toString().split("\n").length - 1;
        if (lines >= 8) child.kill("SIGKILL");
      });
      child.on("exit", () => resolve());
    });
    const cp = JSON.parse(readFileSync(join(killedDir, "checkpoint.json"), "utf8"));
    expect(cp.iteration).toBeGreaterThan(0);
    expect(cp.iteration).toBeLessThan(40);

    const resumed = edgeprop(["train", "--config", cfg, "--out", killedDir, "--json", "--checkpoint-every", "3", "--resume"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout.trim().split("\n")[0]!).iteration).toBe(cp.iteration + 1);
    expect(readFileSync(join(killedDir, "params.json"), "utf8")).toBe(readFileSync(join(dir, "clean", "params.json"), "utf8"));
    const losses = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).loss);
    expect(losses(killedDir)).toEqual(losses(join(dir, "clean")));
  });

  it("refuses to resume a different run, and to overwrite one", () => {
    const other = runConfig("other", { iterations: 41 }, { T: 150, nRec: 30 });
    expect(edgeprop(["train", "--config", other, "--out", join(dir, "clean"), "--resume"]).stderr).toMatch(/--resume: the checkpoint .* belongs to a different run/);
    expect(edgeprop(["train", "--config", other, "--out", join(dir, "clean")]).stderr).toMatch(/--out: .* already holds a run/);
  });

  it("names the bad field of a run config", () => {
    const bad = (name: string, extra: Record<string, unknown>, pattern: RegExp) => {
      const r = edgeprop(["train", "--config", runConfig(name, extra), "--out", join(dir, name)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
    };
    bad("noiter", { iterations: undefined }, /iterations: expected a finite number, got nothing \(the field is missing\)/);
    bad("badopt", { optimizer: { kind: "sgd" } }, /optimizer\.kind: expected one of 'gd', 'adam', got 'sgd'/);
    bad("badlr", { optimizer: { kind: "adam", lr: -1 } }, /optimizer\.lr: expected a number > 0, got -1/);
    bad("badtrial", { trials: [{ inputs: [[0, 1]], targets: [[0, 0]] }] }, /trials\[0\]\.inputs\[0\]: expected 6 numbers \(nIn\)/);
  });
});

describe("edgeprop train on a board that cannot hold the model", () => {
  it("is refused before any port is opened, with the bytes needed and the board's RAM", () => {
    const cfg = runConfig("big", {}, { nIn: 80, nRec: 100, nOut: 3, T: 20 });
    const r = edgeprop(["train", "--config", cfg, "--board", "nucleo-f446re", "--port", "/dev/edgeprop-no-such-port", "--out", join(dir, "big")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model\.nRec: .*RAM of board 'nucleo-f446re' of 131072 bytes; nIn 80 x nRec 100 x nOut 3 needs \d+ bytes/);
  });
});
