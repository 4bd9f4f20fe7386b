// The EqProp case format (EQPROP.md "Case format"): defaults, and one InputError naming the field
// for each bad input the spec lists.
import { describe, expect, it } from "vitest";
import { parseJsonLenient } from "../host/input/fields.ts";
import { caseKind } from "../host/rules/rule.ts";
import { LIMITS, parseEqpropCase } from "../host/rules/eqprop/schema.ts";
import { inputError } from "./helpers/errors.ts";

function good(): Record<string, any> {
  return {
    format: "hil-case/1",
    name: "tiny",
    model: { kind: "eqprop", layers: [2, 3, 1], beta: 0.01, freeSteps: 20, nudgedSteps: 10 },
    params: { W: [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[0.1, -0.2, 0.3]]], b: [[0.1, 0.2, 0.3], [0.5]] },
    inputs: [[0, 1], [0.5, 0.25]],
    targets: [[1], [0]],
  };
}

describe("EqProp case schema", () => {
  it("reads a case, fills epsilon 0.5, one-sided, sum, and is the eqprop kind", () => {
    const json = good();
    expect(caseKind(json)).toBe("eqprop");
    const c = parseEqpropCase(json);
    expect(c.model).toEqual({ layers: [2, 3, 1], beta: 0.01, epsilon: 0.5, freeSteps: 20, nudgedSteps: 10, nudge: "one-sided", lossReduction: "sum" });
    expect(c.params.W[1]).toEqual([[0.1, -0.2, 0.3]]);
    expect(c.inputs).toHaveLength(2);
  });

  const bad: Array<[string, (j: Record<string, any>) => void, string, RegExp]> = [
    ["layers not a list", (j) => (j.model.layers = 3), "model.layers", /list of 2\.\.16 positive integers/],
    ["one layer only", (j) => (j.model.layers = [2]), "model.layers", /list of 2\.\.16/],
    ["layer size 0", (j) => (j.model.layers = [2, 0, 1]), "model.layers[1]", /integer in \[1, 65536\]/],
    ["layer size 2.5", (j) => (j.model.layers = [2, 2.5, 1]), "model.layers[1]", /integer/],
    ["too many layers", (j) => (j.model.layers = new Array(17).fill(2)), "model.layers", /2\.\.16/],
    ["too many parameters", (j) => (j.model.layers = [65536, 65536, 2]), "model.layers", /at most 16777216 weights and biases/],
    ["layers that do not match W", (j) => (j.model.layers = [2, 4, 1]), "params.W[0]", /expected 4 rows \(layers\[1\]=4\) of 2/],
    ["a row of W too short", (j) => (j.params.W[1][0] = [0.1, 0.2]), "params.W[1][0]", /expected 3 numbers \(layers\[1\]=3\)/],
    ["W with a missing matrix", (j) => j.params.W.pop(), "params.W", /expected 2 matrices/],
    ["b of the wrong length", (j) => (j.params.b[0] = [0.1]), "params.b[0]", /array of 3 numbers/],
    ["beta 0", (j) => (j.model.beta = 0), "model.beta", /other than 0/],
    ["beta missing", (j) => delete j.model.beta, "model.beta", /finite number/],
    ["beta Infinity", (j) => (j.model.beta = "\u0000Infinity"), "model.beta", /got Infinity/],
    ["epsilon 0", (j) => (j.model.epsilon = 0), "model.epsilon", /in \(0, 1\], got 0/],
    ["epsilon 1.5", (j) => (j.model.epsilon = 1.5), "model.epsilon", /in \(0, 1\], got 1.5/],
    ["freeSteps 0", (j) => (j.model.freeSteps = 0), "model.freeSteps", /integer in \[1, 1000000\]/],
    ["nudgedSteps -1", (j) => (j.model.nudgedSteps = -1), "model.nudgedSteps", /integer in \[1, /],
    ["nudge misspelt", (j) => (j.model.nudge = "two-sided"), "model.nudge", /'one-sided', 'symmetric'/],
    ["lossReduction unknown", (j) => (j.model.lossReduction = "max"), "model.lossReduction", /'sum', 'mean'/],
    ["input above 1", (j) => (j.inputs[1][0] = 1.5), "inputs[1][0]", /in \[0, 1\], got 1.5/],
    ["input below 0", (j) => (j.inputs[0][1] = -0.1), "inputs[0][1]", /in \[0, 1\]/],
    ["input NaN", (j) => (j.inputs[0][0] = "\u0000NaN"), "inputs[0][0]", /got NaN/],
    ["weight -Infinity", (j) => (j.params.W[0][1][0] = "\u0000-Infinity"), "params.W[0][1][0]", /got -Infinity/],
    ["target NaN", (j) => (j.targets[1][0] = "\u0000NaN"), "targets[1][0]", /got NaN/],
    ["fewer targets than inputs", (j) => j.targets.pop(), "targets", /N = 2 \(as inputs\)/],
    ["no inputs", (j) => (j.inputs = []), "inputs", /1 <= N <= 1000000/],
    ["kind missing", (j) => delete j.model.kind, "model.kind", /expected 'eqprop'/],
    ["wrong format", (j) => (j.format = "hil-case/2"), "format", /hil-case\/1/],
  ];
  it.each(bad)("%s", (_n, mutate, field, message) => {
    const j = good();
    mutate(j);
    const e = inputError(() => parseEqpropCase(j));
    expect(e.field).toBe(field);
    expect(e.expected).toMatch(message);
  });

  it("reads bare NaN in a file as a named error, not a crash", () => {
    const text = JSON.stringify(good()).replace('"beta":0.01', '"beta":NaN');
    const e = inputError(() => parseEqpropCase(parseJsonLenient(text, "case.json")));
    expect(e.field).toBe("model.beta");
  });

  it("checks the parameter count against its limit before reading W", () => {
    const j = good();
    j.model.layers = [4096, 4096, 4096];
    j.params = null; // never reached: the size check comes first
    expect(inputError(() => parseEqpropCase(j)).field).toBe("model.layers");
    expect(LIMITS.maxParams).toBe(2 ** 24);
  });
});
