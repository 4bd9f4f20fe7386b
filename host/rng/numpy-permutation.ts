// numpy's legacy `np.random.RandomState(seed).permutation(n)`, reproduced exactly so a data split
// made by a numpy prototype ("permutation seed 0") is the same split here without numpy:
// MT19937 seeded by init_genrand(seed) (numpy's `_legacy_seeding` of an integer), then a
// Fisher-Yates shuffle of 0..n-1 from the top, each j drawn by `random_interval(i)`: 32-bit
// outputs masked to the smallest 2^k - 1 >= i and rejected while > i.
// tests/digits.test.ts checks it against numpy itself.

const N = 624;
const M = 397;

class Mt19937 {
  private readonly mt = new Uint32Array(N);
  private pos = N;

  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const p = this.mt[i - 1]!;
      this.mt[i] = (Math.imul(1812433253, (p ^ (p >>> 30)) >>> 0) + i) >>> 0;
    }
  }

  private reload(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % N]! & 0x7fffffff);
      mt[i] = mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.pos = 0;
  }

  next(): number {
    if (this.pos >= N) this.reload();
    let y = this.mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/** np.random.RandomState(seed).permutation(n) for 0 <= seed < 2^32 and n < 2^32. */
export function numpyPermutation(n: number, seed: number): number[] {
  const rng = new Mt19937(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    let mask = i;
    for (let s = 1; s < 32; s <<= 1) mask |= mask >>> s;
    let j: number;
    do j = (rng.next() & mask) >>> 0;
    while (j > i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
