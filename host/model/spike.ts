// How a neuron turns u = v - A into a spike and what stands in for dz/du.
// The model uses MODEL.md's Heaviside + triangular surrogate. The smooth variant (a sigmoid and
// its true derivative) exists only so finite differences can check BPTT through the same code.

export interface SpikeFn {
  z(u: number, vTh: number): number;
  psi(u: number, vTh: number, gamma: number): number;
}

export const heaviside: SpikeFn = {
  z: (u) => (u > 0 ? 1 : 0),
  psi: (u, vTh, gamma) => (gamma / vTh) * Math.max(0, 1 - Math.abs(u) / vTh),
};

export function sigmoidSpike(width: number): SpikeFn {
  const sig = (u: number) => 1 / (1 + Math.exp(-u / width));
  return {
    z: (u) => sig(u),
    psi: (u) => {
      const s = sig(u);
      return (s * (1 - s)) / width;
    },
  };
}
