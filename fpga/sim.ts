// Runs the generated design under iverilog with the generated testbench: write the design to
// a directory, compile once, then run any number of stimuli through `vvp`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Derived } from "./config.ts";
import { fromHex, toHex } from "./fixed.ts";
import type { SimOutput, Stimulus } from "./golden.ts";
import { writeDesign } from "./generate/index.ts";
import { memFileNames } from "./generate/core.ts";
import { ICE40_CELLS_SIM, runToolOk } from "./tools.ts";

export class IverilogSim {
  readonly dir: string;
  private runs = 0;

  private constructor(readonly d: Derived, dir: string) {
    this.dir = dir;
  }

  /** Generates and compiles the design (into `dir`, or a fresh temporary directory). */
  static async compile(d: Derived, dir?: string): Promise<IverilogSim> {
    const out = dir ?? mkdtempSync(join(tmpdir(), "edgeprop-hdl-"));
    writeDesign(d, out);
    const srcs = [...memFileNames(d), "edgeprop_core.v", "edgeprop_tb.v"];
    const args = ["-g2005", "-o", "tb.vvp", "-s", "edgeprop_tb"];
    if (d.cfg.memory === "spram") args.push("-DNO_ICE40_DEFAULT_ASSIGNMENTS", ICE40_CELLS_SIM);
    await runToolOk("iverilog", [...args, ...srcs], out);
    return new IverilogSim(d, out);
  }

  async run(s: Stimulus): Promise<SimOutput & { cycles: number }> {
    const d = this.d;
    const c = d.cfg;
    const n = this.runs++;
    const load = s.loadWeights ?? true;
    if (!load && c.memory === "spram") throw new Error("SPRAM cannot be initialised: the weights must be loaded over the bus");
    const stim = [`${s.x.length} ${s.l ? 1 : 0} ${s.commit ? 1 : 0} ${load ? 1 : 0}`];
    if (load) stim.push(s.w.map((w) => toHex(w, 32)).join(" "));
    for (let t = 0; t < s.x.length; t++) {
      const words: string[] = [];
      for (let k = 0; k < d.xWords; k++) {
        let v = 0;
        for (let b = 0; b < 32 && 32 * k + b < c.nIn; b++) if (s.x[t]![32 * k + b]) v += 2 ** b;
        words.push(v.toString(16));
      }
      stim.push(words.join(" "));
      if (s.l) stim.push(s.l[t]!.map((l) => toHex(l, 32)).join(" "));
    }
    const stimFile = `stim${n}.txt`, outFile = `out${n}.txt`;
    writeFileSync(join(this.dir, stimFile), stim.join("\n") + "\n");
    await runToolOk("vvp", ["-n", "tb.vvp", `+stim=${stimFile}`, `+out=${outFile}`], this.dir);
    const lines = readFileSync(join(this.dir, outFile), "utf8").trim().split("\n");
    let p = 0;
    // The core sign-extends signed fields to the 32-bit bus and zero-extends unsigned ones.
    const next = (signed: boolean) => {
      const line = lines[p++];
      if (line === undefined) throw new Error(`iverilog output ended early (line ${p})`);
      if (/x|z/i.test(line)) throw new Error(`iverilog output line ${p} has undefined bits: ${line}`);
      return fromHex(line.trim(), 32, signed);
    };
    const z: number[][] = [], v: number[][] = [];
    for (let t = 0; t < s.x.length; t++) {
      const bits: number[] = [];
      for (let k = 0; k < d.zWords; k++) {
        const w = next(false);
        for (let b = 0; b < 32 && 32 * k + b < c.nRec; b++) bits.push(Math.floor(w / 2 ** b) % 2);
      }
      z.push(bits);
      v.push(Array.from({ length: c.nRec }, () => next(true)));
    }
    const a = Array.from({ length: d.nSyn }, () => next(true));
    const e = c.mode === "filtered" ? Array.from({ length: d.nSyn }, () => next(false)) : [];
    const w = Array.from({ length: d.nSyn }, () => next(true));
    const cyc = /cycles (\d+)/.exec(lines[p] ?? "");
    return { z, v, a, e, w, cycles: cyc ? Number(cyc[1]) : NaN };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
