/* Speed-of-light baseline for `npm run bench` (bench/eprop-step.ts): the same e-prop training
 * step as device/kernels/eprop.ts (LIF, mse, symmetric feedback, gd accumulation; pre-major
 * synaptic matrices, event-driven forward sums) in plain C, compiled by the bench with
 * gcc -O3 -march=native. Not part of any backend; it only tells how far WASM is from native.
 *
 * usage: eprop-step DATA.bin REPEATS  -> prints {"nsPerStep": median CPU time per step, ...}
 * (CPU time of the thread, not wall time: the bench machines are shared and noisy)
 * DATA.bin (little-endian): u32 nIn, nRec, nOut, T; f32 alpha, kappa, vTh, gamma;
 *   f32 w[(nIn+nRec)*nRec] (pre-major), wOut[nOut*nRec], bOut[nOut], x[T*nIn], target[T*nOut]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t nIn, nRec, nOut, T, nPre;
static float alpha, kappa, vTh, gamma_;
static float *w, *wOut, *bOut, *X, *TG;
static float *v, *z, *psi, *cur, *L, *zk, *act, *pre, *y, *err, *gB, *ebar, *g, *gOut;
static float ok;
static double loss;

static float *falloc(size_t n) {
  float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
  memset(p, 0, n * sizeof(float));
  return p;
}

static void reset(void) {
  memset(v, 0, nRec * 4); memset(z, 0, nRec * 4); memset(zk, 0, nRec * 4); memset(pre, 0, nPre * 4);
  memset(y, 0, nOut * 4); memset(gB, 0, nOut * 4);
  memset(ebar, 0, (size_t)nPre * nRec * 4); memset(g, 0, (size_t)nPre * nRec * 4); memset(gOut, 0, (size_t)nOut * nRec * 4);
  ok = 0; loss = 0;
}

static void step(const float *x, const float *target) {
  const float psiScale = gamma_ / vTh;
  memcpy(act, x, nIn * 4);
  memcpy(act + nIn, z, nRec * 4);
  memset(cur, 0, nRec * 4);
  for (uint32_t p = 0; p < nPre; p++) {
    const float a = act[p];
    if (a == 0) continue;
    const float *row = w + (size_t)p * nRec;
    for (uint32_t j = 0; j < nRec; j++) cur[j] += row[j] * a;
  }
  for (uint32_t j = 0; j < nRec; j++) {
    const float vj = alpha * v[j] + cur[j] - vTh * z[j];
    v[j] = vj;
    const float u = vj - vTh;
    z[j] = u > 0 ? 1.0f : 0.0f;
    const float t = 1.0f - fabsf(u) / vTh;
    psi[j] = psiScale * (t > 0 ? t : 0);
  }
  for (uint32_t k = 0; k < nOut; k++) {
    float drive = bOut[k];
    const float *row = wOut + (size_t)k * nRec;
    for (uint32_t j = 0; j < nRec; j++) if (z[j] != 0) drive += row[j];
    y[k] = kappa * y[k] + drive;
    err[k] = y[k] - target[k];
    loss += 0.5 * (double)err[k] * err[k];
  }
  memset(L, 0, nRec * 4);
  for (uint32_t k = 0; k < nOut; k++) {
    const float *row = wOut + (size_t)k * nRec; /* symmetric feedback: B = wOut^T */
    for (uint32_t j = 0; j < nRec; j++) L[j] += row[j] * err[k];
  }
  for (uint32_t i = 0; i < nIn; i++) pre[i] = alpha * pre[i] + act[i];
  for (uint32_t p = 0; p < nPre; p++) {
    const float pv = pre[p];
    float *eb = ebar + (size_t)p * nRec, *gg = g + (size_t)p * nRec;
    for (uint32_t j = 0; j < nRec; j++) {
      const float e = psi[j] * pv;
      const float b = kappa * eb[j] + e;
      eb[j] = b;
      gg[j] += L[j] * b;
    }
  }
  for (uint32_t i = 0; i < nRec; i++) pre[nIn + i] = alpha * pre[nIn + i] + z[i];
  ok = kappa * ok + 1;
  for (uint32_t j = 0; j < nRec; j++) zk[j] = kappa * zk[j] + z[j];
  for (uint32_t k = 0; k < nOut; k++) {
    float *row = gOut + (size_t)k * nRec;
    for (uint32_t j = 0; j < nRec; j++) row[j] += err[k] * zk[j];
    gB[k] += err[k] * ok;
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y2 = *(const double *)b;
  return x < y2 ? -1 : x > y2;
}

static void rd(FILE *f, void *p, size_t n) {
  if (fread(p, 1, n, f) != n) { fprintf(stderr, "truncated data\n"); exit(2); }
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: eprop-step DATA.bin REPEATS\n"); return 2; }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 2; }
  uint32_t hdr[4]; rd(f, hdr, 16);
  nIn = hdr[0]; nRec = hdr[1]; nOut = hdr[2]; T = hdr[3]; nPre = nIn + nRec;
  float c[4]; rd(f, c, 16);
  alpha = c[0]; kappa = c[1]; vTh = c[2]; gamma_ = c[3];
  w = falloc((size_t)nPre * nRec); rd(f, w, (size_t)nPre * nRec * 4);
  wOut = falloc((size_t)nOut * nRec); rd(f, wOut, (size_t)nOut * nRec * 4);
  bOut = falloc(nOut); rd(f, bOut, nOut * 4);
  X = falloc((size_t)T * nIn); rd(f, X, (size_t)T * nIn * 4);
  TG = falloc((size_t)T * nOut); rd(f, TG, (size_t)T * nOut * 4);
  fclose(f);
  v = falloc(nRec); z = falloc(nRec); psi = falloc(nRec); cur = falloc(nRec); L = falloc(nRec); zk = falloc(nRec);
  act = falloc(nPre); pre = falloc(nPre); y = falloc(nOut); err = falloc(nOut); gB = falloc(nOut);
  ebar = falloc((size_t)nPre * nRec); g = falloc((size_t)nPre * nRec); gOut = falloc((size_t)nOut * nRec);
  int repeats = atoi(argv[2]);
  double *times = malloc(sizeof(double) * (repeats + 1));
  double spikes = 0;
  for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
    reset();
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (uint32_t t = 0; t < T; t++) step(X + (size_t)t * nIn, TG + (size_t)t * nOut);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    if (r >= 0) times[r] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / T;
    spikes = 0;
    for (uint32_t j = 0; j < nRec; j++) spikes += zk[j];
  }
  qsort(times, repeats, sizeof(double), cmp);
  double med = repeats % 2 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2;
  double gsum = 0;
  for (size_t i = 0; i < (size_t)nPre * nRec; i++) gsum += g[i];
  printf("{\"nsPerStep\": %.1f, \"check\": %.6g, \"loss\": %.6g}\n", med, gsum, loss);
  return 0;
}
