// PCG32 (XSH-RR, 64-bit state), MODEL.md "Device random numbers"; host twin: host/rng/pcg32.ts.
const MUL: u64 = 6364136223846793005;
let state: u64 = 0;
let inc: u64 = 1;

/** seed(initState, initSeq), each u64 given as two u32 halves (no BigInt needed on the host). */
export function pcgSeed(stateHi: u32, stateLo: u32, seqHi: u32, seqLo: u32): void {
  const initState = (<u64>stateHi << 32) | <u64>stateLo;
  const initSeq = (<u64>seqHi << 32) | <u64>seqLo;
  state = 0;
  inc = (initSeq << 1) | 1;
  pcgNext();
  state += initState;
  pcgNext();
}

export function pcgNext(): u32 {
  const old = state;
  state = old * MUL + inc;
  const x = <u32>(((old >> 18) ^ old) >> 27);
  const rot = <u32>(old >> 59);
  return rotr<u32>(x, rot);
}

/** Uniform in [0, 1): (next >>> 8) * 2^-24, exact in float32. */
export function pcgUniform(): f32 {
  return <f32>(pcgNext() >>> 8) * 5.9604644775390625e-8;
}

/** The generator's state as u32 words: 0 state hi, 1 state lo, 2 inc hi, 3 inc lo (checkpoints). */
export function pcgState(i: i32): u32 {
  const x = i < 2 ? state : inc;
  return (i & 1) == 0 ? <u32>(x >> 32) : <u32>x;
}

/** Puts back a state read with pcgState (the stream continues exactly where it was). */
export function pcgRestore(stateHi: u32, stateLo: u32, incHi: u32, incLo: u32): void {
  state = (<u64>stateHi << 32) | <u64>stateLo;
  inc = (<u64>incHi << 32) | <u64>incLo;
}
