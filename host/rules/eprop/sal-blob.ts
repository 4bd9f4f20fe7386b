// The SAL state inside an e-prop arena (device/kernels/layout.ts FLD_S*, the FLD_SSC scalar block of
// device/kernels/sal.ts), read on the host from a board's checkpoint blob (96-byte EPCK header +
// arena) or from the wasm kernels' memory: a training checkpoint then shows the board's SAL state
// in the same record the host reference keeps (SalVectors), so the two compare field by field.
import type { ArenaPlan, FieldName } from "../../device/planner.ts";
import type { Matrix } from "../../model/types.ts";
import { SAL_COUNTERS, type SalVectors } from "../../reference/sal.ts";

/** Bytes of the e-prop checkpoint header in front of the arena (device/rules/eprop/handlers.ts CK_HDR). */
export const EPCK_HEADER = 96;

// FLD_SSC words (device/kernels/sal.ts SC_*): 9 gF, 10 gB (f32); 11 t, 12 lower, 13 upper, 14..17 PCG32, 18 ready (u32).
const SC_GF = 9;
const SC_T = 11;

/** B [nRec][nOut] and the SAL vectors of an arena laid out as `plan`, starting at byte `at` of `bytes`. */
export function salFromArena(bytes: Uint8Array, plan: ArenaPlan, at = 0): { B: Matrix; sal: SalVectors } {
  const { nRec, nOut } = plan.dims;
  const S = plan.stride;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const off = (name: FieldName): number => {
    const f = plan.fields.find((x) => x.name === name)!;
    if (f.bytes === 0) throw new Error(`arena has no ${name} field (a model configured without feedback 'sal')`);
    return at + f.offset;
  };
  const f32s = (name: FieldName, n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => view.getFloat32(off(name) + 4 * (from + i), true));
  const u32s = (name: FieldName, n: number, from: number): number[] => Array.from({ length: n }, (_, i) => view.getUint32(off(name) + 4 * (from + i), true));
  const fb = f32s("fb", nOut * S);
  return {
    B: Array.from({ length: nRec }, (_, j) => Array.from({ length: nOut }, (_, k) => fb[k * S + j]!)),
    sal: {
      v: f32s("salV", nRec), z: f32s("salZ", nRec), q: f32s("salQ", nRec), bL: f32s("salBL", nRec), thL: f32s("salThL", nRec),
      u: f32s("salU", nOut), y: f32s("salY", nOut), r: f32s("salR", nOut), bU: f32s("salBU", nOut), thU: f32s("salThU", nOut),
      gains: f32s("salScalars", 2, SC_GF),
      counters: u32s("salScalars", SAL_COUNTERS, SC_T),
    },
  };
}
