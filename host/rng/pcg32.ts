// PCG32 (XSH-RR, 64-bit state), the device PRNG of MODEL.md, shared by host and device so a
// seed reproduces the same spikes everywhere. The 64-bit state is kept as two u32 halves in
// plain numbers: BigInt arithmetic is ~50x slower, and SAL draws nRec + nOut numbers a step.

const MUL_HI = 0x5851f42d; // 6364136223846793005 = 0x5851f42d_4c957f2d
const MUL_LO = 0x4c957f2d;
const TWO32 = 4294967296;

function splitU64(x: bigint | number): [number, number] {
  const b = BigInt.asUintN(64, BigInt(x));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

export class Pcg32 {
  private hi = 0;
  private lo = 0;
  private incHi: number;
  private incLo: number;

  constructor(initState: bigint | number, initSeq: bigint | number) {
    const [sh, sl] = splitU64(BigInt.asUintN(64, BigInt(initSeq)) << 1n);
    this.incHi = sh;
    this.incLo = (sl | 1) >>> 0;
    this.next();
    const [ih, il] = splitU64(initState);
    const lo = this.lo + il;
    this.lo = lo >>> 0;
    this.hi = (this.hi + ih + (lo >= TWO32 ? 1 : 0)) >>> 0;
    this.next();
  }

  /** The generator's state as u32 words [state hi, state lo, inc hi, inc lo] (the device's pcgState order). */
  words(): [number, number, number, number] {
    return [this.hi, this.lo, this.incHi, this.incLo];
  }

  /** A generator that continues exactly from words() (checkpoints). */
  static fromWords(w: readonly number[]): Pcg32 {
    const g = new Pcg32(0, 0);
    [g.hi, g.lo, g.incHi, g.incLo] = w.map((x) => x >>> 0) as [number, number, number, number];
    return g;
  }

  /** The next u32 of the stream. */
  next(): number {
    const oh = this.hi;
    const ol = this.lo;
    // state = old * MUL + inc  (mod 2^64)
    const a0 = ol & 0xffff;
    const a1 = ol >>> 16;
    const b0 = MUL_LO & 0xffff;
    const b1 = MUL_LO >>> 16;
    const carryHi = a1 * b1 + Math.floor((a1 * b0 + a0 * b1 + Math.floor((a0 * b0) / 65536)) / 65536);
    const mulLo = Math.imul(ol, MUL_LO) >>> 0;
    const mulHi = (carryHi + Math.imul(oh, MUL_LO) + Math.imul(ol, MUL_HI)) >>> 0;
    const lo = mulLo + this.incLo;
    this.lo = lo >>> 0;
    this.hi = (mulHi + this.incHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
    // output: rotr32(u32(((old >> 18) ^ old) >> 27), old >> 59)
    const xh = oh ^ (oh >>> 18);
    const xl = ol ^ ((ol >>> 18) | (oh << 14));
    const x = ((xl >>> 27) | (xh << 5)) >>> 0;
    const rot = oh >>> 27;
    return ((x >>> rot) | (x << ((32 - rot) & 31))) >>> 0;
  }

  /** Uniform in [0, 1) with 24 bits: exact in float32 and float64 alike. */
  uniform(): number {
    return (this.next() >>> 8) * 2 ** -24;
  }

  /** Standard normal by Box-Muller from two uniforms (host-side initialisation only). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
