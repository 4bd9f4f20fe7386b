// The float32 readout of MODEL.md (the leaky readout, e-prop's learning signal and the exact
// wOut/bOut gradients; the step's error and loss are loss.ts's, shared with OSTL), as functions
// of the arrays they work on, so that every kernel with a readout calls the same code:
// device/kernels/eprop.ts (float32 throughout) and device/kernels/fixed16-eprop.ts (fixed-point
// recurrent layer, float32 readout).
// Rows have stride S (elements); the SIMD build processes 4 neurons at a time in the same order.
import { addRowScaled } from "./rows";

/**
 * Writes the indices of the spiking neurons (z_j != 0, ascending) to `spk` and updates
 * y_k = kappa y_k + s (bOut_k + sum_j wOut[k][j] z_j), the sum over spiking j ascending.
 * Returns the number of spikes.
 */
export function readoutForward(n: i32, S: i32, nOut: i32, z: usize, spk: usize, wOut: usize, bOut: usize, y: usize, kappa: f32, s: f32): i32 {
  const rowBytes = <usize>S << 2;
  // branch-free compaction
  let ns = 0;
  for (let j = 0; j < n; j++) {
    store<i32>(spk + (<usize>ns << 2), j);
    ns += <i32>(load<f32>(z + (<usize>j << 2)) != 0);
  }
  const spkEnd = spk + (<usize>ns << 2);
  let row = wOut;
  for (let k: usize = 0; k < <usize>nOut; k++, row += rowBytes) {
    let drive = load<f32>(bOut + (k << 2));
    for (let q = spk; q < spkEnd; q += 4) drive += load<f32>(row + (<usize>load<i32>(q) << 2));
    store<f32>(y + (k << 2), kappa * load<f32>(y + (k << 2)) + s * drive);
  }
  return ns;
}

/** L_j = sum_k B[j][k] err_k (k ascending), with B stored transposed: B[j][k] at fb + (k S + j) 4. */
export function learningSignal(n: i32, S: i32, nOut: i32, fb: usize, err: usize, L: usize): void {
  const rowBytes = <usize>S << 2;
  memory.fill(L, 0, rowBytes);
  let row = fb;
  for (let k: usize = 0; k < <usize>nOut; k++, row += rowBytes) {
    const e = load<f32>(err + (k << 2));
    if (ASC_FEATURE_SIMD) {
      const ev = f32x4.splat(e);
      for (let o: usize = 0; o < rowBytes; o += 16) {
        v128.store(L + o, f32x4.add(v128.load(L + o), f32x4.mul(v128.load(row + o), ev)));
      }
    } else {
      addRowScaled(L, row, n, e);
    }
  }
}

/**
 * The readout gradients of step t (exact): zk = kappa zk + s z; gOut[k] += err_k zk;
 * ok = kappa ok + s; gB_k += err_k ok. Returns the new ok.
 */
export function readoutGrads(n: i32, S: i32, nOut: i32, z: usize, zk: usize, err: usize, gOut: usize, gB: usize, kappa: f32, s: f32, ok: f32): f32 {
  const rowBytes = <usize>S << 2;
  ok = kappa * ok + s;
  if (ASC_FEATURE_SIMD) {
    const kv = f32x4.splat(kappa), sv = f32x4.splat(s);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      v128.store(zk + o, f32x4.add(f32x4.mul(kv, v128.load(zk + o)), f32x4.mul(sv, v128.load(z + o))));
    }
    for (let k: usize = 0; k < <usize>nOut; k++) {
      const ev = f32x4.splat(load<f32>(err + (k << 2)));
      const row = gOut + k * rowBytes;
      for (let o: usize = 0; o < rowBytes; o += 16) {
        v128.store(row + o, f32x4.add(v128.load(row + o), f32x4.mul(ev, v128.load(zk + o))));
      }
    }
  } else {
    const recBytes = <usize>n << 2;
    for (let o: usize = 0; o < recBytes; o += 4) store<f32>(zk + o, kappa * load<f32>(zk + o) + s * load<f32>(z + o));
    let row = gOut;
    for (let k: usize = 0; k < <usize>nOut; k++, row += rowBytes) {
      const e = load<f32>(err + (k << 2));
      for (let o: usize = 0; o < recBytes; o += 4) store<f32>(row + o, load<f32>(row + o) + e * load<f32>(zk + o));
    }
  }
  for (let o: usize = 0; o < (<usize>nOut << 2); o += 4) store<f32>(gB + o, load<f32>(gB + o) + load<f32>(err + o) * ok);
  return ok;
}

/**
 * The readout's part of a per-step update (update "step", device/kernels/README): zk and ok as in
 * readoutGrads, then wOut[k][j] -= lr err_k zk_j and (trainBias) bOut_k -= lr err_k ok at once,
 * instead of accumulating gOut and gB. Returns the new ok.
 */
export function readoutUpdate(n: i32, S: i32, nOut: i32, z: usize, zk: usize, err: usize, wOut: usize, bOut: usize,
  kappa: f32, s: f32, ok: f32, lr: f32, trainBias: bool): f32 {
  const rowBytes = <usize>S << 2, recBytes = <usize>n << 2;
  ok = kappa * ok + s;
  for (let o: usize = 0; o < recBytes; o += 4) store<f32>(zk + o, kappa * load<f32>(zk + o) + s * load<f32>(z + o));
  let row = wOut;
  for (let k: usize = 0; k < <usize>nOut; k++, row += rowBytes) {
    const le = lr * load<f32>(err + (k << 2));
    for (let o: usize = 0; o < recBytes; o += 4) store<f32>(row + o, load<f32>(row + o) - le * load<f32>(zk + o));
    if (trainBias) store<f32>(bOut + (k << 2), load<f32>(bOut + (k << 2)) - le * ok);
  }
  return ok;
}
