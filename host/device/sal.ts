// Host driver of the device SAL kernel (device/kernels/sal.ts): B aligned on the device from
// spike timing alone. Runs in the arena of an e-prop model configured with `sal: true`.
import type { Matrix, ModelConfig } from "../model/types.ts";
import { salConstants, type SalSetup } from "../reference/sal.ts";
import { EpropDevice, Kernels } from "./driver.ts";
import type { Build } from "./planner.ts";

function u64Halves(x: bigint | number): [number, number] {
  const b = BigInt.asUintN(64, BigInt(x));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

/** A minimal model record for a standalone alignment phase (SAL needs only nRec, nOut, wOut and B). */
function salModel(nRec: number, nOut: number): ModelConfig {
  return {
    neuron: "lif", nIn: 1, nRec, nOut, dt: 1, tauMem: 20, tauOut: 20, tauAdapt: 200, beta: new Array<number>(nRec).fill(0),
    vTh: 1, gamma: 0.3, refractory: 0, loss: "mse", inputScale: "one", readoutScale: "one", trainBias: true, rateReg: null,
    lossReduction: "sum",
  };
}

export class SalDevice {
  private constructor(readonly dev: EpropDevice) {}

  /** Sets up an alignment phase on `dev` (configured with sal: true; its wOut is the forward weight). */
  static start(dev: EpropDevice, setup: Omit<SalSetup, "wOut"> & { wOut?: Matrix }): SalDevice {
    const { k } = dev;
    const wOut = setup.wOut ?? dev.readParams().wOut;
    const c = salConstants(wOut, setup.params);
    k.call("salConstants", c.alpha, c.kappa, c.lambda, c.delta, c.gF, c.gB, c.rhoTarget, c.etaH, c.eta0, c.Ta);
    dev.writeB(setup.B);
    k.writeF32(dev.addr("salThL"), setup.thLower);
    k.writeF32(dev.addr("salThU"), setup.thUpper);
    k.call("pcgSeed", ...u64Halves(setup.seed.state), ...u64Halves(setup.seed.seq));
    k.call("salInit");
    return new SalDevice(dev);
  }

  /** A fresh kernel instance holding only what SAL needs. */
  static async create(setup: SalSetup, build: Build = "scalar", record = false): Promise<SalDevice> {
    const k = await Kernels.load(build);
    if (record) k.script = [];
    const nRec = setup.B.length, nOut = setup.wOut.length;
    const dev = EpropDevice.on(k, salModel(nRec, nOut), "adaptive", { build, sal: true });
    dev.loadParams({ wIn: Array.from({ length: nRec }, () => [0]), wRec: Array.from({ length: nRec }, () => new Array<number>(nRec).fill(0)), wOut: setup.wOut, bOut: new Array<number>(nOut).fill(0) }, setup.B);
    return SalDevice.start(dev, setup);
  }

  run(n: number): void {
    this.dev.k.call("salRun", n);
  }

  step(): void {
    this.dev.k.call("salStep");
  }

  /** Lower (z) and upper (y) spikes of the last step. */
  spikes(): { z: number[]; y: number[] } {
    const { k, model } = this.dev;
    return { z: Array.from(k.readF32(this.dev.addr("salZ"), model.nRec)), y: Array.from(k.readF32(this.dev.addr("salY"), model.nOut)) };
  }

  counts(): { steps: number; lower: number; upper: number } {
    const { k } = this.dev;
    return { steps: k.call("salSteps"), lower: k.call("salLowerSpikes"), upper: k.call("salUpperSpikes") };
  }

  get B(): Matrix {
    return this.dev.readB();
  }
}
