// Constants derived from a model record (MODEL.md "Time and state" and "Options").
import type { ModelConfig } from "./types.ts";

export interface Decays {
  alpha: number; // membrane decay exp(-dt/tauMem)
  rho: number; // adaptation decay exp(-dt/tauAdapt)
  kappa: number; // readout decay exp(-dt/tauOut)
  zeta: number; // synaptic input scale: 1, or 1 - alpha
  s: number; // readout input scale: 1, or 1 - kappa
}

export function decays(m: ModelConfig): Decays {
  const alpha = Math.exp(-m.dt / m.tauMem);
  const rho = Math.exp(-m.dt / m.tauAdapt);
  const kappa = Math.exp(-m.dt / m.tauOut);
  return {
    alpha,
    rho,
    kappa,
    zeta: m.inputScale === "oneMinusAlpha" ? 1 - alpha : 1,
    s: m.readoutScale === "oneMinusKappa" ? 1 - kappa : 1,
  };
}

/** The number every loss and gradient is divided by (MODEL.md `lossReduction`). */
export function lossNormaliser(m: ModelConfig, mask: number[]): number {
  if (m.lossReduction === "sum") return 1;
  if (m.loss === "mse") return mask.length;
  return mask.reduce((n, x) => n + x, 0);
}

/** Per-neuron rate-regulariser target rate in spikes per step. */
export function targetRatePerStep(m: ModelConfig): number {
  return m.rateReg ? (m.rateReg.fTargetHz * m.dt) / 1000 : 0;
}
