// The e-prop kernel API of device/kernels/eprop.ts as the firmware calls it, dispatched by the
// board's numerics: float32 (eprop.ts) or fixed16 (fixed16-eprop.ts: the FPGA core's fixed point
// for cores without an FPU). The board writes its numerics into NUMERICS before init()
// (device/HAL.md; boards/*.json "numerics": 0 f32, 1 fixed16); CONFIGURE reads it.
import {
  epConfigure as f32Configure, epConstants as f32Constants, epInjectL as f32InjectL, epReset as f32Reset,
  epForward as f32Forward, epLearn as f32Learn, epStep as f32Step, epFinish as f32Finish, epSteps as f32Steps,
  epApplyGd as f32ApplyGd, epApplyAdam as f32ApplyAdam, epResetOptimizer as f32ResetOptimizer, epPtr as f32Ptr,
  epStride as f32Stride, epArenaBytes as f32ArenaBytes, epUpdateRate as f32UpdateRate,
} from "./eprop";
import {
  fxConfigure, fxConstants, fxUpdateRate, fxInjectL, fxReset, fxForward, fxLearn, fxStep, fxFinish, fxSteps,
  fxApplyGd, fxPtr, fxArenaBytes, fxRefusal,
} from "./fixed16-eprop";
export { fxGet, fxSet } from "./fixed16-eprop";

/** Written by the board before init(): 1 = fixed16, anything else = float32. */
export const NUMERICS: usize = memory.data(4, 4);

let fixed: bool = false;
let nRec: i32 = 0;
let constantsOk: bool = true;

/** The board's numerics is fixed16. */
export function boardFixed16(): bool {
  return load<u32>(NUMERICS) == 1;
}

/** The configured model runs on the fixed16 kernel (element access goes through fxGet/fxSet). */
export function fixedKernel(): bool {
  return fixed;
}

/** The CONFIGURE field the board's kernel cannot run with these flags, or "". */
export function numericsRefusal(flags: i32): string {
  return boardFixed16() ? fxRefusal(flags) : "";
}

export function epConfigure(base: usize, nIn: i32, nRec_: i32, nOut: i32, flags: i32): u32 {
  fixed = boardFixed16();
  nRec = nRec_;
  return fixed ? fxConfigure(base, nIn, nRec_, nOut, flags) : f32Configure(base, nIn, nRec_, nOut, flags);
}

export function epConstants(alpha: f32, rho: f32, kappa: f32, zeta: f32, s: f32, vTh: f32, gamma: f32,
  refractory: i32, cReg: f32, fTargetPerStep: f32): void {
  if (fixed) constantsOk = fxConstants(alpha, kappa, zeta, s, vTh, gamma);
  else f32Constants(alpha, rho, kappa, zeta, s, vTh, gamma, refractory, cReg, fTargetPerStep);
}

/** False when the last epConstants left the fixed16 formats' range (vTh, decays). */
export function epConstantsOk(): bool { return !fixed || constantsOk; }
export function epUpdateRate(lr: f32): void { if (fixed) fxUpdateRate(lr); else f32UpdateRate(lr); }
export function epInjectL(on: bool): void { if (fixed) fxInjectL(on); else f32InjectL(on); }
export function epReset(): void { if (fixed) fxReset(); else f32Reset(); }
export function epForward(mask: f32): void { if (fixed) fxForward(mask); else f32Forward(mask); }
export function epLearn(): void { if (fixed) fxLearn(); else f32Learn(); }
export function epStep(mask: f32): void { if (fixed) fxStep(mask); else f32Step(mask); }
export function epFinish(): f64 { return fixed ? fxFinish() : f32Finish(); }
export function epSteps(): i32 { return fixed ? fxSteps() : f32Steps(); }
export function epApplyGd(lr: f32, clip: bool, wMin: f32, wMax: f32): void {
  if (fixed) fxApplyGd(lr, clip, wMin, wMax);
  else f32ApplyGd(lr, clip, wMin, wMax);
}
export function epApplyAdam(lr: f32, b1: f32, b2: f32, eps: f32, n: i32): void { if (!fixed) f32ApplyAdam(lr, b1, b2, eps, n); }
export function epResetOptimizer(): void { if (!fixed) f32ResetOptimizer(); }
export function epPtr(f: i32): usize { return fixed ? fxPtr(f) : f32Ptr(f); }
export function epStride(): i32 { return fixed ? nRec : f32Stride(); }
export function epArenaBytes(): u32 { return fixed ? fxArenaBytes() : f32ArenaBytes(); }
