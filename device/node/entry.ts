// Node-facing entry of the kernels (build/device/{scalar,simd}.wasm), driven by
// host/device/driver.ts. It re-exports the plain kernel functions and adds arena placement:
// the arena starts at the first 16-byte boundary after the static data and the wasm memory is
// grown to hold it (at configure time only; the step path never allocates).
export {
  LANES, epConfigure, epConstants, epInjectL, epReset, epForward, epLearn, epStep, epFinish, epSteps,
  epApplyGd, epApplyAdam, epResetOptimizer, epPtr, epStride, epArenaBytes, epBase,
} from "../kernels/eprop";
export { salConstants, salInit, salStep, salRun, salSteps, salLowerSpikes, salUpperSpikes } from "../kernels/sal";
export { pcgSeed, pcgNext, pcgUniform } from "../kernels/pcg32";
export { fieldElems, layoutArena, fieldOffset } from "../kernels/layout";
export { DC_LANES, dcShape, dcShapeLayer, dcPlan, dcConfigure, dcAttach, dcLayerConstants, dcPtr, dcLayerPtr, dcStride, dcArenaBytes, dcSteps, dcMasked, dcReset, dcStep, dcForward, dcFinish, dcLayerLoss, dcZeroGrad, dcApplyGd, dcApplyAdam, dcResetOptimizer, dcStepUpdate } from "../rules/decolle/kernel";
export * from "../rules/ostl/kernel";
export { eqSetSize, eqPlan, eqConfigure, eqConstants, eqBase, eqArenaBytes, eqPtr, eqStride, eqFree, eqSample, eqLoss, eqResidual, eqClear, eqApply } from "../rules/eqprop/kernel";
import { epConfigure } from "../kernels/eprop";
import { layoutArena } from "../kernels/layout";

/** The arena base used by this entry. */
export function arenaBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Lays out and zeroes the e-prop arena after growing memory as needed; returns its bytes, or 0 if memory cannot grow. */
export function configure(nIn: i32, nRec: i32, nOut: i32, flags: i32): u32 {
  const lanes: i32 = ASC_FEATURE_SIMD ? 4 : 1;
  const b = reserve(layoutArena(nIn, nRec, nOut, flags, lanes));
  return b == 0 ? 0 : epConfigure(b, nIn, nRec, nOut, flags);
}

/**
 * Makes `bytes` of linear memory available at arenaBase() (growing memory at configure time
 * only) and returns that base, or 0 if memory cannot grow. Every rule's kernel lays its arena
 * out at this base.
 */
export function reserve(bytes: u32): usize {
  const b = arenaBase();
  const need = b + <usize>bytes;
  const have = <usize>memory.size() << 16;
  if (need > have && memory.grow(<i32>((need - have + 0xffff) >> 16)) < 0) return 0;
  return b;
}
