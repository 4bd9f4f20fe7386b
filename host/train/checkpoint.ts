// Checkpoints: everything needed to resume a run exactly (the rule's tensors, optimizer state,
// iteration), written atomically (temp file + rename) so a host killed mid-write leaves the
// previous checkpoint intact, never a torn one. Read back, every tensor the rule declares
// (training.ts `tensors`) is checked for its shape and finiteness before it is trusted.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import { intIn, obj, parseJsonLenient } from "../input/fields.ts";
import { parseOptimizerState } from "./optimizer.ts";
import type { TrainState } from "./target.ts";
import { readTensors } from "./tensors.ts";
import type { TensorSpec } from "./training.ts";

export const CHECKPOINT_FILE = "checkpoint.json";
const FORMAT = "edgeprop-checkpoint/1";

export interface Checkpoint {
  iteration: number;
  /** Hash of what defines the run; a resume with different settings is refused. */
  runHash: string;
  state: TrainState;
}

export function runHash(definition: unknown): string {
  return createHash("sha256").update(JSON.stringify(definition)).digest("hex").slice(0, 16);
}

export function writeCheckpoint(dir: string, cp: Checkpoint): void {
  const path = join(dir, CHECKPOINT_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...cp }));
  renameSync(tmp, path);
}

export function readCheckpoint(dir: string, tensors: readonly TensorSpec[]): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new InputError("--resume", `no checkpoint in ${dir} (expected ${CHECKPOINT_FILE}); start the run without --resume`);
  const x = obj(parseJsonLenient(readFileSync(path, "utf8"), path), path);
  if (x.format !== FORMAT) throw new InputError(`${path}: format`, `expected '${FORMAT}'`);
  const s = obj(x.state, "state");
  return {
    iteration: intIn(x.iteration, "iteration", 0, Number.MAX_SAFE_INTEGER),
    runHash: String(x.runHash),
    state: {
      ...(readTensors(s, tensors, "state") as { params: unknown }),
      optimizer: parseOptimizerState(s.optimizer, "state.optimizer"),
      ...(typeof s.device === "string" ? { device: s.device } : {}),
      ...(typeof s.arena === "string" ? { arena: s.arena } : {}),
    },
  };
}
