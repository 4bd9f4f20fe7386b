// The readout's error and loss of one step (MODEL.md "Readout and loss"), float32 with the loss
// in float64, shared by every rule's kernel that ends in MODEL.md's leaky readout.
//   mse: err_k = y_k - target_k;                 returns 1/2 sum_k err_k^2
//   ce:  err_k = mask (p_k - target_k), p = softmax(y) by a max-shifted log-softmax;
//        returns -sum_k target_k log p_k when mask != 0, else 0
// (before lossReduction: the kernels divide at the end of the trial).

@inline function at(p: usize, k: i32): f32 { return load<f32>(p + (<usize>k << 2)); }

export function stepError(pY: usize, pTarget: usize, pErr: usize, nOut: i32, mask: f32, ce: bool): f64 {
  let l: f64 = 0;
  if (!ce) {
    for (let k = 0; k < nOut; k++) {
      const e = at(pY, k) - at(pTarget, k);
      store<f32>(pErr + (<usize>k << 2), e);
      l += <f64>e * <f64>e;
    }
    return 0.5 * l;
  }
  let m = at(pY, 0);
  for (let k = 1; k < nOut; k++) m = max<f32>(m, at(pY, k));
  let sum: f32 = 0;
  for (let k = 0; k < nOut; k++) sum += Mathf.exp(at(pY, k) - m);
  const logSum = Mathf.log(sum);
  for (let k = 0; k < nOut; k++) {
    const logp = (at(pY, k) - m) - logSum;
    const tk = at(pTarget, k);
    store<f32>(pErr + (<usize>k << 2), mask * (Mathf.exp(logp) - tk));
    if (tk != 0) l += <f64>(tk * logp);
  }
  return mask != 0 ? -l : 0;
}
