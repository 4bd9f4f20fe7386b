// float32 row helpers shared by the kernels (device/kernels/eprop.ts, readout.ts): the scalar
// (MCU) building blocks of eprop.ts's comment, eight elements per iteration at immediate offsets.

/** cur[j] += w[j] for j < n (a row of spikes: w*1 == w exactly, so no multiply). */
export function addRow(cur: usize, w: usize, n: i32): void {
  const end8 = cur + (<usize>(n & ~7) << 2), end = cur + (<usize>n << 2);
  while (cur < end8) {
    store<f32>(cur, load<f32>(cur) + load<f32>(w));
    store<f32>(cur, load<f32>(cur, 4) + load<f32>(w, 4), 4);
    store<f32>(cur, load<f32>(cur, 8) + load<f32>(w, 8), 8);
    store<f32>(cur, load<f32>(cur, 12) + load<f32>(w, 12), 12);
    store<f32>(cur, load<f32>(cur, 16) + load<f32>(w, 16), 16);
    store<f32>(cur, load<f32>(cur, 20) + load<f32>(w, 20), 20);
    store<f32>(cur, load<f32>(cur, 24) + load<f32>(w, 24), 24);
    store<f32>(cur, load<f32>(cur, 28) + load<f32>(w, 28), 28);
    cur += 32;
    w += 32;
  }
  for (; cur < end; cur += 4, w += 4) store<f32>(cur, load<f32>(cur) + load<f32>(w));
}

/** cur[j] += w[j] * a for j < n. */
export function addRowScaled(cur: usize, w: usize, n: i32, a: f32): void {
  const end8 = cur + (<usize>(n & ~7) << 2), end = cur + (<usize>n << 2);
  while (cur < end8) {
    store<f32>(cur, load<f32>(cur) + load<f32>(w) * a);
    store<f32>(cur, load<f32>(cur, 4) + load<f32>(w, 4) * a, 4);
    store<f32>(cur, load<f32>(cur, 8) + load<f32>(w, 8) * a, 8);
    store<f32>(cur, load<f32>(cur, 12) + load<f32>(w, 12) * a, 12);
    store<f32>(cur, load<f32>(cur, 16) + load<f32>(w, 16) * a, 16);
    store<f32>(cur, load<f32>(cur, 20) + load<f32>(w, 20) * a, 20);
    store<f32>(cur, load<f32>(cur, 24) + load<f32>(w, 24) * a, 24);
    store<f32>(cur, load<f32>(cur, 28) + load<f32>(w, 28) * a, 28);
    cur += 32;
    w += 32;
  }
  for (; cur < end; cur += 4, w += 4) store<f32>(cur, load<f32>(cur) + load<f32>(w) * a);
}
