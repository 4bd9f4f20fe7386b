// A short training run on the emulated Cortex-M4 (wasm2c firmware in QEMU) ends with exactly
// the weights the simulated board (the same firmware .wasm in Node) ends with.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomCase } from "../host/case/random.ts";
import { edgeprop } from "./helpers/cli.ts";

describe("edgeprop train --board qemu-mps2-an386", () => {
  it("ends with the simulated board's weights, bit for bit", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgeprop-qemu-train-"));
    const { format: _f, ...c } = randomCase({ neuron: "alif", seed: 12, T: 60, nIn: 5, nRec: 10, nOut: 2, recurrent: true });
    const cfg = join(dir, "run.json");
    writeFileSync(cfg, JSON.stringify({ ...c, rule: "eprop", optimizer: { kind: "adam", lr: 0.01 }, iterations: 8 }));
    const losses: Record<string, number[]> = {};
    for (const board of ["qemu-mps2-an386", "sim"]) {
      const r = edgeprop(["train", "--config", cfg, "--board", board, "--out", join(dir, board), "--json"]);
      expect(r.code, r.stderr).toBe(0);
      losses[board] = r.stdout.trim().split("\n").map((l) => JSON.parse(l).loss);
    }
    expect(losses["qemu-mps2-an386"]).toEqual(losses.sim);
    expect(losses.sim!.at(-1)).toBeLessThan(losses.sim![0]!);
    expect(readFileSync(join(dir, "qemu-mps2-an386", "params.json"), "utf8")).toBe(readFileSync(join(dir, "sim", "params.json"), "utf8"));
  });
});
