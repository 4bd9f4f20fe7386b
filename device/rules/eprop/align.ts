// ALIGN (PROTOCOL.md): e-prop's SAL alignment phase on a model configured with feedback "sal"
// (F_SEPB | F_SAL). The first ALIGN carries `init`: the board seeds its PCG32 stream, draws its
// thresholds and the initial B itself (salDraw) and starts SAL; every ALIGN then recomputes the
// gains from the board's own wOut, optionally restarts the eta schedule, and runs `n` steps, a
// bounded number per poll (H_PENDING in between). B is never written by the host and never
// derived from wOut here: it changes only inside salRun, from spike timing.
//
// Everything is checked before anything changes; the SAL state lives in the arena (kernels/sal.ts),
// so CHECKPOINT carries it. Registered in handlers.ts (M_ALIGN, and OP_CONTINUE while pending).
import { expF64 } from "../../kernels/fdlibm";
import { mpReadMap, mpNext, mpStrIs, mpReadU32, vU32, mpReadNum, vF64, mpReadBool, vBool, tLen, T_MAP, mpWriteMap, mpWriteStr, mpWriteUint, mpWriteF64 } from "../../firmware/msgpack";
import { fail, errCode, E_BAD_FIELD, E_BAD_VALUE, E_NOT_CONFIGURED, E_UNSUPPORTED } from "../../firmware/errors";
import { readKey, failKey } from "../../firmware/dispatcher";
import { H_DONE, H_PENDING } from "../../firmware/rule";
import { epFlags } from "../../kernels/eprop";
import { F_SAL } from "../../kernels/layout";
import { pcgSeed } from "../../kernels/pcg32";
import {
  salParams, salDraw, salInit, salGains, salRestart, salReady, salRun, salStepWork, salSteps, salLowerSpikes,
  salUpperSpikes, salCos,
} from "../../kernels/sal";

/** Synapse-equivalents of SAL work per poll (as RUN's WORK_PER_POLL). */
const WORK_PER_POLL: u64 = 1 << 18;

// value checks of the init fields
const POSITIVE = 0, NON_NEGATIVE = 1, RATE = 2, FRACTION = 3;

let pending: bool = false;
let left: u32 = 0;
let ran: u32 = 0;
let lower0: u32 = 0;
let upper0: u32 = 0;
let gain: f32 = 0;

/** True while an ALIGN is spread over polls (handlers.ts routes OP_CONTINUE here then). */
export function alignPending(): bool {
  return pending;
}

// Error texts stay short: every string literal is static data (UTF-16) in an MCU's 64 KiB window.

/** Reads a number field into vF64 and checks it as float32 (what the kernel gets) against `check`. */
function readParam(field: string, check: i32): bool {
  if (!mpReadNum()) { fail(E_BAD_FIELD, field, "must be a number"); return false; }
  const x = <f32>vF64;
  if (!isFinite(vF64) || !isFinite(x)) { fail(E_BAD_VALUE, field, "must be finite"); return false; }
  if (check == POSITIVE && !(x > 0)) { fail(E_BAD_VALUE, field, "must be > 0"); return false; }
  if (check == NON_NEGATIVE && x < 0) { fail(E_BAD_VALUE, field, "must be >= 0"); return false; }
  if (check == RATE && !(x > 0 && x < 1)) { fail(E_BAD_VALUE, field, "must be in (0, 1)"); return false; }
  if (check == FRACTION && !(x >= 0 && x < 1)) { fail(E_BAD_VALUE, field, "must be in [0, 1)"); return false; }
  return true;
}

/** ALIGN request (the reader is at its body map); `configured`: e-prop holds a model. */
export function hAlign(configured: bool): i32 {
  const m = mpReadMap();
  let n: u32 = 0, restart = false, init = false, seed: u32 = 0, seq: u32 = 0x5a1;
  // defaults: MODEL.md's prototype (decays of tau 20 at dt 1)
  const d20: f64 = expF64(-1.0 / 20.0);
  let alpha: f64 = d20, kappa: f64 = d20, lambda: f64 = d20, delta: f64 = 0.1, wRms: f64 = 0.1, rhoT: f64 = 0.02;
  let etaH: f64 = 5e-5, eta0: f64 = 0.01, Ta: f64 = 20000, theta: f64 = 1, jitter: f64 = 0.2, bScale: f64 = 0.1;
  let hasSeed = false;
  for (let i = 0; i < m; i++) {
    if (!readKey()) return errCode;
    if (mpStrIs("n")) { if (!mpReadU32()) return fail(E_BAD_FIELD, "n", "must be an unsigned integer"); n = vU32; }
    else if (mpStrIs("restart")) { if (!mpReadBool()) return fail(E_BAD_FIELD, "restart", "must be a bool"); restart = vBool; }
    else if (mpStrIs("init")) {
      if (mpNext() != T_MAP) return fail(E_BAD_FIELD, "init", "must be a map");
      init = true;
      const k = <i32>tLen;
      for (let j = 0; j < k; j++) {
        if (!readKey()) return errCode;
        if (mpStrIs("seed")) { if (!mpReadU32()) return fail(E_BAD_FIELD, "init.seed", "must be an unsigned integer"); seed = vU32; hasSeed = true; }
        else if (mpStrIs("seq")) { if (!mpReadU32()) return fail(E_BAD_FIELD, "init.seq", "must be an unsigned integer"); seq = vU32; }
        else if (mpStrIs("alpha")) { if (!readParam("init.alpha", RATE)) return errCode; alpha = vF64; }
        else if (mpStrIs("kappa")) { if (!readParam("init.kappa", RATE)) return errCode; kappa = vF64; }
        else if (mpStrIs("lambda")) { if (!readParam("init.lambda", RATE)) return errCode; lambda = vF64; }
        else if (mpStrIs("delta")) { if (!readParam("init.delta", POSITIVE)) return errCode; delta = vF64; }
        else if (mpStrIs("wRms")) { if (!readParam("init.wRms", POSITIVE)) return errCode; wRms = vF64; }
        else if (mpStrIs("rhoTarget")) { if (!readParam("init.rhoTarget", RATE)) return errCode; rhoT = vF64; }
        else if (mpStrIs("etaH")) { if (!readParam("init.etaH", NON_NEGATIVE)) return errCode; etaH = vF64; }
        else if (mpStrIs("eta0")) { if (!readParam("init.eta0", NON_NEGATIVE)) return errCode; eta0 = vF64; }
        else if (mpStrIs("Ta")) { if (!readParam("init.Ta", POSITIVE)) return errCode; Ta = vF64; }
        else if (mpStrIs("theta")) { if (!readParam("init.theta", POSITIVE)) return errCode; theta = vF64; }
        else if (mpStrIs("jitter")) { if (!readParam("init.jitter", FRACTION)) return errCode; jitter = vF64; }
        else if (mpStrIs("bScale")) { if (!readParam("init.bScale", POSITIVE)) return errCode; bScale = vF64; }
        else return failKey(E_BAD_FIELD, "unknown field");
      }
    }
    else return failKey(E_BAD_FIELD, "unknown field");
  }
  if (init && !hasSeed) return fail(E_BAD_FIELD, "init.seed", "missing");
  if (!configured) return fail(E_NOT_CONFIGURED, "", "ALIGN before CONFIGURE");
  if ((epFlags() & F_SAL) == 0) return fail(E_UNSUPPORTED, "feedback", "configured without feedback \"sal\"");
  if (!init && salReady() == 0) return fail(E_BAD_VALUE, "init", "SAL was never started on this model: the first ALIGN carries init");
  // checked: from here on the request changes state
  if (init) {
    salParams(<f32>alpha, <f32>kappa, <f32>lambda, <f32>delta, <f32>wRms, <f32>rhoT, <f32>etaH, <f32>eta0, <f32>Ta);
    pcgSeed(0, seed, 0, seq);
    salDraw(theta, jitter, bScale);
    salInit();
  }
  if (restart) salRestart();
  gain = salGains();
  lower0 = <u32>salLowerSpikes();
  upper0 = <u32>salUpperSpikes();
  left = n;
  ran = 0;
  pending = true;
  return alignSome();
}

/** The next bounded slice of the pending ALIGN; writes the response after its last step. */
export function alignSome(): i32 {
  let k: u64 = WORK_PER_POLL / <u64>salStepWork();
  if (k < 1) k = 1;
  const steps = <u64>left < k ? left : <u32>k;
  salRun(<i32>steps);
  left -= steps;
  ran += steps;
  if (left > 0) return H_PENDING;
  pending = false;
  mpWriteMap(6);
  mpWriteStr("n");
  mpWriteUint(ran);
  mpWriteStr("t");
  mpWriteUint(<u32>salSteps());
  mpWriteStr("lo");
  mpWriteUint(<u32>salLowerSpikes() - lower0);
  mpWriteStr("up");
  mpWriteUint(<u32>salUpperSpikes() - upper0);
  mpWriteStr("gain");
  mpWriteF64(<f64>gain);
  mpWriteStr("cos");
  mpWriteF64(salCos());
  return H_DONE;
}
