// A rule's tensors (training.ts TensorSpec) inside its training state: which ones the optimizer
// updates, the optimizer step over them as flat arrays, and the generic checkpoint check of
// every tensor's shape and finiteness.
import { InputError } from "../input/errors.ts";
import { matrix, obj, vector, type Json } from "../input/fields.ts";
import { applyUpdate, type OptimizerConfig, type OptimizerState } from "./optimizer.ts";
import type { TensorSpec } from "./training.ts";

export type Tensor = number[] | number[][];

/** The parameters the optimizer updates: not frozen, not held fixed by the model. */
export function trainedTensors(specs: readonly TensorSpec[], freeze: readonly string[]): TensorSpec[] {
  return specs.filter((t) => t.kind === "param" && !t.fixed && !freeze.includes(t.name));
}

export function tensorAt(state: object, path: readonly string[]): Tensor {
  let x: unknown = state;
  for (const k of path) x = (x as Record<string, unknown>)[k];
  return x as Tensor;
}

/** A path step that indexes a list (EqProp's `["params", "W", "0"]`). */
const isIndex = (k: string | undefined): boolean => k !== undefined && /^(0|[1-9]\d*)$/.test(k);

function setTensor(state: object, path: readonly string[], v: Tensor): void {
  let x = state as Record<string, unknown>;
  for (let i = 0; i + 1 < path.length; i++) x = (x[path[i]!] ??= isIndex(path[i + 1]) ? [] : {}) as Record<string, unknown>;
  x[path.at(-1)!] = v;
}

const flat = (x: Tensor): number[] => (Array.isArray(x[0]) ? (x as number[][]).flat() : (x as number[]).slice());

/**
 * One optimizer update of the `trained` tensors of `state` in place, with gradients by tensor
 * name (same shapes): flattened, updated (weights marked `clip` are clipped to [wMin, wMax]),
 * written back in their shapes.
 */
export function applyTensorUpdate(
  cfg: OptimizerConfig,
  optimizer: OptimizerState,
  state: object,
  trained: readonly TensorSpec[],
  grads: object,
): void {
  const arrays: Record<string, number[]> = {};
  const gradArrays: Record<string, number[]> = {};
  for (const t of trained) {
    arrays[t.name] = flat(tensorAt(state, t.path));
    gradArrays[t.name] = flat((grads as Record<string, Tensor>)[t.name]!);
  }
  applyUpdate(cfg, optimizer, arrays, gradArrays, new Set(trained.filter((t) => t.clip).map((t) => t.name)));
  for (const t of trained) {
    const src = arrays[t.name]!;
    const cols = t.shape[1];
    setTensor(state, t.path, cols === undefined ? src : Array.from({ length: t.shape[0]! }, (_, r) => src.slice(r * cols, (r + 1) * cols)));
  }
}

/**
 * Reads every tensor of `specs` from the JSON object `x` (a checkpoint's state), checking its
 * shape and that every number is finite (InputError naming e.g. `state.params.wIn[3][1]`);
 * returns a fresh object holding just those tensors at their paths.
 */
export function readTensors(x: Json, specs: readonly TensorSpec[], field: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of specs) {
    let v: Json = x;
    let f = field;
    for (const k of t.path) {
      if (isIndex(k)) {
        if (!Array.isArray(v)) throw new InputError(f, `expected a list, got ${v === null ? "null" : typeof v}`);
        v = v[Number(k)]!;
        f = `${f}[${k}]`;
      } else {
        v = obj(v, f)[k];
        f = `${f}.${k}`;
      }
    }
    const read = t.shape.length === 2 ? matrix(v, f, t.shape[0]!, t.shape[1]!, t.dims[0]!, t.dims[1]!) : vector(v, f, t.shape[0]!);
    setTensor(out, t.path, read);
  }
  return out;
}
