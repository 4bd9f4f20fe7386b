// `--backend fpga-sim`: the generated Verilog core (fpga/) under iverilog. The case is
// quantised (fpga/quantise.ts), the design generated and simulated with the case's spikes and
// the host's learning signals, and the core's accumulators de-quantised into gradients.
// wOut/bOut gradients and the loss come from the host readout of the core's spikes.
// `--config hdl.json` sets widths, mode (filtered|online) and memory; sizes come from the case.
import { readHdlConfig } from "../../fpga/config.ts";
import { dequantise, quantiseCase } from "../../fpga/quantise.ts";
import { IverilogSim } from "../../fpga/sim.ts";
import type { Case } from "../model/types.ts";
import { ruleOn, type GradBackend, type GradOptions } from "./backend.ts";

export const fpgaSimBackend: GradBackend = {
  name: "fpga-sim",
  rules: ["eprop"],
  async grad<Out>(x: unknown, opts: GradOptions): Promise<Out> {
    ruleOn(fpgaSimBackend, opts.rule);
    const c = x as Case; // e-prop's case
    const base = opts.flags.config ? readHdlConfig(opts.flags.config) : {};
    const q = quantiseCase(c, base);
    const sim = await IverilogSim.compile(q.d);
    try {
      const out = await sim.run(q.stim);
      const t = out.z.findIndex((row, k) => row.some((z, j) => z !== q.zGolden[k]![j]));
      if (t >= 0) throw new Error(`fpga-sim: the simulated core's spikes differ from the golden model's at step ${t + 1}`);
      return { loss: q.ro.loss, grads: dequantise(q, out.a) } as Out;
    } finally {
      sim.dispose();
    }
  },
};
