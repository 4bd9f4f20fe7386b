// `edgeprop hdl generate`: every file of a design, from one validated config.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Derived, quantWeight } from "../config.ts";
import { toHex } from "../fixed.ts";
import { coreVerilog, memoryFiles, memSpecs } from "./core.ts";
import { testbenchVerilog } from "./testbench.ts";
import { topVerilog } from "./top.ts";

export interface GeneratedFile {
  name: string;
  text: string;
}

/** Init files for $readmemh: the config's weights (quantised), zeros elsewhere. */
export function initFiles(d: Derived): GeneratedFile[] {
  return memSpecs(d).map((m) => {
    const lines: string[] = [];
    for (let k = 0; k < m.depth; k++) {
      let v = 0;
      if (m.name === "w" && d.cfg.weights) v = quantWeight(d.cfg, d.cfg.weights[Math.floor(k / d.nPre)]![k % d.nPre]!);
      lines.push(toHex(v, m.width));
    }
    return { name: m.init, text: lines.join("\n") + "\n" };
  });
}

export function generateFiles(d: Derived): GeneratedFile[] {
  return [
    { name: "edgeprop_core.v", text: coreVerilog(d) },
    ...memoryFiles(d),
    { name: "edgeprop_top.v", text: topVerilog(d) },
    { name: "edgeprop_tb.v", text: testbenchVerilog(d) },
    ...initFiles(d),
  ];
}

/** The synthesisable sources (core, memories, top), in dependency order. */
export function rtlFileNames(d: Derived): string[] {
  return [...memoryFiles(d).map((f) => f.name), "edgeprop_core.v", "edgeprop_top.v"];
}

export function writeDesign(d: Derived, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = generateFiles(d);
  for (const f of files) writeFileSync(join(dir, f.name), f.text);
  return files.map((f) => f.name);
}
