// Bad input to the CLI: one line naming the field and what was expected, exit code 2, no stack.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomCase } from "../host/case/random.ts";
import { edgeprop } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-cli-"));
const good = randomCase({ seed: 2, T: 20 });

function caseFile(name: string, mutate: (c: any) => void, raw?: (text: string) => string): string {
  const c = structuredClone(good) as any;
  mutate(c);
  const path = join(dir, `${name}.json`);
  const text = JSON.stringify(c);
  writeFileSync(path, raw ? raw(text) : text);
  return path;
}

const BAD: Array<[string, string, RegExp]> = [
  ["wrong wIn rows", caseFile("rows", (c) => c.params.wIn.pop()), /params\.wIn: expected 12 rows \(nRec\) of 8 \(nIn\)/],
  ["wrong wOut row length", caseFile("cols", (c) => c.params.wOut[1].push(0)), /params\.wOut\[1\]: expected 12 numbers \(nRec\)/],
  ["wrong target length", caseFile("targets", (c) => c.targets.pop()), /targets: expected 20 rows/],
  ["NaN literal", caseFile("nan", (c) => (c.params.wIn[2][3] = 12345.5), (t) => t.replace("12345.5", "NaN")), /params\.wIn\[2\]\[3\]: expected a finite number, got NaN/],
  ["Infinity literal", caseFile("inf", (c) => (c.inputs[4][1] = 12345.5), (t) => t.replace("12345.5", "-Infinity")), /inputs\[4\]\[1\]: expected a finite number, got -Infinity/],
  ["null (JSON's NaN)", caseFile("null", (c) => (c.params.bOut[0] = null)), /params\.bOut\[0\]: expected a finite number, got null/],
  ["unknown neuron", caseFile("neuron", (c) => (c.model.neuron = "izhikevich")), /model\.neuron: expected one of 'lif', 'alif', got 'izhikevich'/],
  ["unknown loss", caseFile("loss", (c) => (c.model.loss = "hinge")), /model\.loss: expected one of 'mse', 'ce', got 'hinge'/],
  ["zero tauMem", caseFile("tau0", (c) => (c.model.tauMem = 0)), /model\.tauMem: expected a number > 0, got 0/],
  ["negative tauOut", caseFile("tauneg", (c) => (c.model.tauOut = -5)), /model\.tauOut: expected a number > 0, got -5/],
  ["mask not 0/1", caseFile("mask", (c) => (c.mask[3] = 0.5)), /mask\[3\]: expected 0 or 1, got 0\.5/],
  ["bad format", caseFile("format", (c) => (c.format = "hil-case/2")), /format: expected 'hil-case\/1'/],
  ["not JSON", caseFile("json", () => {}, () => "{ nope"), /not valid JSON/],
  ["random feedback without B", caseFile("fb", (c) => (c.feedback = { kind: "random" })), /feedback\.B: required for feedback kind 'random'/],
];

describe("edgeprop grad rejects bad input with a one-line error and exit 2", () => {
  for (const [label, file, pattern] of BAD) {
    it(label, () => {
      const r = edgeprop(["grad", file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
      expect(r.stdout).toBe("");
    });
  }

  it("a missing file", () => {
    const r = edgeprop(["grad", join(dir, "absent.json")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/absent\.json: no such file/);
  });

  it("an unknown rule or backend", () => {
    expect(edgeprop(["grad", caseFile("ok", () => {}), "--rule", "rtrl"]).stderr).toMatch(/--rule: expected one of bptt\|eprop\|decolle\|ostl\|eqprop\|eqprop-exact, got 'rtrl'/);
    expect(edgeprop(["grad", caseFile("ok2", () => {}), "--backend", "gpu"]).code).toBe(2);
  });

  it("--debug shows the stack trace instead", () => {
    const r = edgeprop(["grad", join(dir, "absent.json"), "--debug"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/InputError/);
  });
});

describe("edgeprop grad and case on good input", () => {
  it("prints loss and gradients of the documented shapes", () => {
    const r = edgeprop(["grad", caseFile("good", () => {}), "--rule", "bptt"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(["loss", "grads"]);
    expect(out.grads.wIn).toHaveLength(12);
    expect(out.grads.wIn[0]).toHaveLength(8);
    expect(out.grads.wRec).toHaveLength(12);
    expect(out.grads.wOut).toHaveLength(3);
    expect(out.grads.bOut).toHaveLength(3);
  });

  it("warns about a model field it does not read (a likely typo), and still answers", () => {
    const r = edgeprop(["grad", caseFile("typo", (c) => (c.model.inputscale = "oneMinusAlpha"))]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*model\.inputscale is not a field edgeprop reads \(ignored\); known: .*inputScale/);
    expect(Number.isFinite(JSON.parse(r.stdout).loss)).toBe(true);
  });

  it("case random writes a case that grad accepts", () => {
    const path = join(dir, "random.json");
    expect(edgeprop(["case", "random", "--neuron", "alif", "--loss", "ce", "--recurrent", "--seed", "5", "--out", path]).code).toBe(0);
    const r = edgeprop(["grad", path, "--rule", "eprop"]);
    expect(r.code).toBe(0);
    expect(Number.isFinite(JSON.parse(r.stdout).loss)).toBe(true);
  });
});
