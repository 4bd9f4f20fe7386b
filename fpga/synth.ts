// `edgeprop hdl report`: yosys synth_ice40 + nextpnr-ice40 on the generated design (behind the
// pin-light top), parsed into LUTs, BRAM, SPRAM, DSP and Fmax. The fit check runs first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../host/input/errors.ts";
import type { Derived } from "./config.ts";
import { rtlFileNames, writeDesign } from "./generate/index.ts";
import { checkFit, cyclesPerStep, type MemEstimate, type Part } from "./parts.ts";
import { runTool, runToolOk } from "./tools.ts";

export interface SynthReport {
  part: string;
  synapses: number;
  mode: string;
  memory: string;
  estimate: MemEstimate;
  lcs: { used: number; available: number };
  bram: { used: number; available: number };
  spram: { used: number; available: number };
  dsp: { used: number; available: number };
  fmaxMHz: number;
  targetMHz: number;
  timingMet: boolean;
  cyclesStep: number;
  cyclesLearn: number;
  /** Synaptic operations per second at Fmax: forward only, and forward + e-prop update. */
  sopsForward: number;
  sopsLearning: number;
  yosysSec: number;
  nextpnrSec: number;
}

/**
 * synth_ice40 (yosys 0.23's script) with its `coarse` step spelled out minus `share`: sharing
 * the core's multipliers across FSM states puts operand muxes in front of the DSPs and cost
 * ~40 % of Fmax (21.5 vs 38 MHz at 32 x 32 on BRAM).
 */
export function yosysScript(files: string[], dsp: boolean): string {
  const flags = dsp ? " -dsp" : "";
  const dspSteps = dsp
    ? [
        "techmap -map +/mul2dsp.v -map +/ice40/dsp_map.v -D DSP_A_MAXWIDTH=16 -D DSP_B_MAXWIDTH=16 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 -D DSP_Y_MINWIDTH=11 -D DSP_NAME=$__MUL16X16",
        "select a:mul2dsp",
        "setattr -unset mul2dsp",
        "opt_expr -fine",
        "wreduce",
        "select -clear",
        "ice40_dsp",
        "chtype -set $mul t:$__soft_mul",
      ]
    : [];
  return [
    `read_verilog ${files.join(" ")}`,
    `synth_ice40 -top edgeprop_top${flags} -run begin:coarse`,
    "opt_expr", "opt_clean", "check", "opt -nodffe -nosdff", "fsm", "opt", "wreduce", "peepopt", "opt_clean",
    "techmap -map +/cmp2lut.v -D LUT_WIDTH=4", "opt_expr", "opt_clean", "memory_dff", "wreduce t:$mul",
    ...dspSteps,
    "alumacc", "opt", "memory -nomap", "opt_clean",
    `synth_ice40 -top edgeprop_top${flags} -run map_ram:`,
    "write_json top.json",
    "",
  ].join("\n");
}

export async function synthesise(d: Derived, part: Part, targetMHz = 24, keepDir?: string): Promise<SynthReport> {
  const est = checkFit(d, part);
  const dir = keepDir ?? mkdtempSync(join(tmpdir(), "edgeprop-synth-"));
  try {
    writeDesign(d, dir);
    const t0 = Date.now();
    writeFileSync(join(dir, "synth.ys"), yosysScript(rtlFileNames(d), part.dsp > 0));
    await runToolOk("yosys", ["-q", "-l", "yosys.log", "synth.ys"], dir);
    const t1 = Date.now();
    const pnr = await runTool(
      "nextpnr-ice40",
      [part.nextpnrFlag, "--package", part.pkg, "--json", "top.json", "--freq", String(targetMHz), "--pcf-allow-unconstrained", "--timing-allow-fail", "--report", "report.json", "--seed", "1", "-q", "-l", "nextpnr.log"],
      dir,
    );
    const t2 = Date.now();
    if (pnr.status !== 0) {
      const log = readFileSync(join(dir, "nextpnr.log"), "utf8");
      const lc = /ICESTORM_LC:\s*(\d+)\/\s*(\d+)/.exec(log);
      if (lc && Number(lc[1]) > Number(lc[2])) {
        throw new InputError("--part", `after synthesis the design needs ${lc[1]} logic cells but ${part.name} has ${lc[2]}; choose a larger part or fewer synapses`);
      }
    }
    if (pnr.status !== 0) throw new Error(`nextpnr-ice40 failed (exit ${pnr.status}):\n${readFileSync(join(dir, "nextpnr.log"), "utf8").slice(-3000)}`);
    const rep = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as {
      fmax: Record<string, { achieved: number; constraint: number }>;
      utilization: Record<string, { used: number; available: number }>;
    };
    const clk = Object.entries(rep.fmax).find(([k]) => k.startsWith("clk"));
    const fmax = clk ? clk[1].achieved : NaN;
    const u = (k: string) => rep.utilization[k] ?? { used: 0, available: 0 };
    const cyc = cyclesPerStep(d);
    const hz = fmax * 1e6;
    return {
      part: part.name,
      synapses: d.nSyn,
      mode: d.cfg.mode,
      memory: d.cfg.memory,
      estimate: est,
      lcs: u("ICESTORM_LC"),
      bram: u("ICESTORM_RAM"),
      spram: u("ICESTORM_SPRAM"),
      dsp: u("ICESTORM_DSP"),
      fmaxMHz: Math.round(fmax * 100) / 100,
      targetMHz,
      timingMet: fmax >= targetMHz,
      cyclesStep: cyc.step,
      cyclesLearn: cyc.learn,
      sopsForward: (d.nSyn * hz) / cyc.step,
      sopsLearning: (d.nSyn * hz) / (cyc.step + cyc.learn),
      yosysSec: (t1 - t0) / 1000,
      nextpnrSec: (t2 - t1) / 1000,
    };
  } finally {
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

export function formatReport(r: SynthReport): string {
  const f = (x: { used: number; available: number }) => `${x.used}/${x.available}`;
  const m = (x: number) => (x / 1e6).toFixed(2);
  return [
    `part ${r.part}: ${r.synapses} synapses, mode ${r.mode}, memory ${r.memory}`,
    `  LUTs (LCs) ${f(r.lcs)}  BRAM ${f(r.bram)}  SPRAM ${f(r.spram)}  DSP ${f(r.dsp)}`,
    `  Fmax ${r.fmaxMHz} MHz (${r.timingMet ? "meets" : "MISSES"} ${r.targetMHz} MHz)`,
    `  cycles: STEP ${r.cyclesStep}, LEARN ${r.cyclesLearn}; at Fmax ${m(r.sopsForward)} M synaptic ops/s forward, ${m(r.sopsLearning)} M/s with e-prop`,
  ].join("\n");
}
