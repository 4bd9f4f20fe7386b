// BENCHMARKS.md section "FPGA core": `edgeprop hdl report` for the iCE40UP5K at three sizes
// (yosys synth_ice40 -dsp + nextpnr-ice40, 24 MHz target), synaptic operations per second
// at Fmax, and the golden fixed-point model's gradient cosine vs float64 e-prop per width.
import { derive, parseHdlConfig, type HdlConfig } from "../fpga/config.ts";
import { runGolden } from "../fpga/golden.ts";
import { PARTS } from "../fpga/parts.ts";
import { dequantise, quantiseCase } from "../fpga/quantise.ts";
import { synthesise } from "../fpga/synth.ts";
import { randomCase } from "../host/case/random.ts";
import { epropGrad } from "../host/reference/eprop.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";
import { cosine } from "../host/model/compare.ts";
import { MARGIN_CASES as CASES } from "../fpga/margin-cases.ts";

const SIZES: Partial<HdlConfig>[] = [
  { nIn: 32, nRec: 32, memory: "bram" },
  { nIn: 64, nRec: 64, memory: "spram" },
  { nIn: 128, nRec: 128, memory: "spram" },
  { nIn: 128, nRec: 128, memory: "spram", mode: "online" },
  { nIn: 128, nRec: 256, memory: "spram", mode: "online" },
  { nIn: 128, nRec: 512, memory: "spram", mode: "online", update: "step" },
];



export const fpgaSection: BenchSection = {
  name: "fpga",
  async run(log) {
    const rows: string[] = [];
    for (const over of SIZES) {
      const d = derive(parseHdlConfig(over));
      log(`fpga: synthesising ${d.cfg.nIn}x${d.cfg.nRec} ${d.cfg.mode} ${d.cfg.memory} for up5k`);
      const r = await synthesise(d, PARTS.up5k!, 24);
      const m = (x: number) => (x / 1e6).toFixed(1);
      rows.push(
        `| ${d.cfg.nIn} x ${d.cfg.nRec} | ${r.synapses} | ${r.mode}${d.cfg.update === "step" ? ", per-step update" : ""} | ${r.memory} | ${r.lcs.used}/${r.lcs.available} | ${r.bram.used}/${r.bram.available} | ${r.spram.used}/${r.spram.available} | ${r.dsp.used}/${r.dsp.available} | ${r.fmaxMHz.toFixed(1)} ${r.timingMet ? "" : "(misses 24)"} | ${r.cyclesStep} + ${r.cyclesLearn} | ${m(r.sopsForward)} | ${m(r.sopsLearning)} | ${Math.round((r.fmaxMHz * 1e6) / (r.cyclesStep + r.cyclesLearn))} | ${(r.yosysSec + r.nextpnrSec).toFixed(0)} s |`,
      );
    }
    const cosRows: string[] = [];
    const cases = CASES.map((o) => randomCase(o));
    const refs = cases.map((c) => epropGrad(c));
    for (const bits of [8, 10, 12, 14, 16]) {
      const cols: string[] = [];
      for (const mode of ["filtered", "online"] as const) {
        const cs = cases.map((c, k) => {
          const q = quantiseCase(c, { mode, weightBits: bits, eligBits: bits, accBits: bits, learnBits: bits, traceBits: bits, membraneBits: bits + 4 });
          const g = dequantise(q, runGolden(q.d, q.stim).a);
          const ref = refs[k]!.grads;
          return cosine([...g.wIn.flat(), ...g.wRec.flat()], [...ref.wIn.flat(), ...ref.wRec.flat()]);
        });
        cols.push(`${Math.min(...cs).toFixed(4)} / ${median(cs).toFixed(4)}`);
      }
      cosRows.push(`| ${bits} | ${cols.join(" | ")} |`);
    }
    return [
      "## FPGA core (iCE40UP5K)",
      "",
      "`edgeprop hdl report --part up5k` (yosys `synth_ice40 -dsp` without `share`, nextpnr-ice40 at a 24 MHz target,",
      "seed 1) of the generated core behind its 7-pin shift-register top. 16-bit weights, eligibility, accumulators",
      "and learning signals, 20-bit membranes. Cycles are one STEP (traces + forward, one synapse per clock) + one",
      "LEARN (the e-prop update, pipelined at 2 clocks per synapse). Synaptic ops/s at Fmax = synapses x steps/s;",
      "'with e-prop' counts a step as STEP + LEARN. filtered = exact e-prop (w, ebar, acc per synapse), online = no",
      "ebar (w, acc per synapse); per-step update = LEARN writes the weights directly (w only per synapse).",
      "",
      "| size | synapses | mode | memory | LCs | BRAM | SPRAM | DSP | Fmax MHz | cycles STEP + LEARN | M syn-ops/s forward | M syn-ops/s with e-prop | steps/s with e-prop | tool time |",
      "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "Golden fixed-point model (bit-exact with the RTL) vs float64 e-prop: cosine similarity of the wIn/wRec",
      `gradients, min / median over ${CASES.length} margin cases (LIF, mse/ce, recurrent, symmetric/random feedback, scaled options),`,
      "all widths (weights, traces, eligibility, learning signal, accumulator) at the given bits, membranes +4.",
      "",
      "| bits | filtered (exact e-prop) | online (no ebar memory) |",
      "| ---: | ---: | ---: |",
      ...cosRows,
    ].join("\n");
  },
};
