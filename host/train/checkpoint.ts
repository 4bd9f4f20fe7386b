// Checkpoints: everything needed to resume a run exactly (parameters, feedback, optimizer
// state, iteration), written atomically (temp file + rename) so a host killed mid-write
// leaves the previous checkpoint intact, never a torn one.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import { intIn, matrix, obj, parseJsonLenient, vector } from "../input/fields.ts";
import type { ModelConfig } from "../model/types.ts";
import { parseOptimizerState } from "./optimizer.ts";
import type { TrainState } from "./target.ts";

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

export function readCheckpoint(dir: string, m: ModelConfig): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new InputError("--resume", `no checkpoint in ${dir} (expected ${CHECKPOINT_FILE}); start the run without --resume`);
  const x = obj(parseJsonLenient(readFileSync(path, "utf8"), path), path);
  if (x.format !== FORMAT) throw new InputError(`${path}: format`, `expected '${FORMAT}'`);
  const s = obj(x.state, "state");
  const p = obj(s.params, "state.params");
  return {
    iteration: intIn(x.iteration, "iteration", 0, Number.MAX_SAFE_INTEGER),
    runHash: String(x.runHash),
    state: {
      params: {
        wIn: matrix(p.wIn, "state.params.wIn", m.nRec, m.nIn, "nRec", "nIn"),
        wRec: matrix(p.wRec, "state.params.wRec", m.nRec, m.nRec, "nRec", "nRec"),
        wOut: matrix(p.wOut, "state.params.wOut", m.nOut, m.nRec, "nOut", "nRec"),
        bOut: vector(p.bOut, "state.params.bOut", m.nOut),
      },
      B: matrix(s.B, "state.B", m.nRec, m.nOut, "nRec", "nOut"),
      optimizer: parseOptimizerState(s.optimizer, "state.optimizer"),
      ...(typeof s.device === "string" ? { device: s.device } : {}),
    },
  };
}
