// A checkpoint is input like any other: before `--resume` trusts one, what it holds is checked
// against the run it claims to continue, beyond the shapes and finiteness readCheckpoint checks
// for every tensor: the iteration is within the run, the optimizer took at least one step per
// iteration, its moments name the rule's trained tensors with their sizes and Adam's second
// moment is not negative, and an e-prop board's own blob (its arena) is intact (magic, size,
// CRC-32C), is of this model and optimizer, counts the same updates and holds the very weights of
// the host checkpoint. (Other rules' blobs are checked by their firmware when restored: a CRC.)
// Errors name the field.
import { InputError } from "../input/errors.ts";
import type { Case } from "../model/types.ts";
import { FLAG, planArena } from "../device/planner.ts";
import { crc32c } from "../../protocol/crc32c.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { OptimizerConfig } from "./optimizer.ts";
import type { TensorSpec } from "./training.ts";

export interface CheckedRun {
  rule: string;
  base: unknown;
  iterations: number;
  optimizer: OptimizerConfig;
  /** The rule's tensors (training.ts `tensors`). */
  tensors: readonly TensorSpec[];
}

const size = (t: TensorSpec) => t.shape.reduce((a, b) => a * b, 1);

export function checkCheckpoint(cp: Checkpoint, run: CheckedRun, path: string): void {
  const f = (field: string) => `${path}: ${field}`;
  if (cp.iteration < 1 || cp.iteration > run.iterations) {
    throw new InputError(f("iteration"), `expected an iteration in [1, ${run.iterations}] (the run's iterations), got ${cp.iteration}`);
  }
  const opt = cp.state.optimizer;
  if (opt.step < cp.iteration) {
    throw new InputError(f("state.optimizer.step"), `expected at least ${cp.iteration} (every iteration applies an update, and 'iteration' is ${cp.iteration}), got ${opt.step}`);
  }
  const sizes = new Map(run.tensors.filter((t) => t.kind === "param").map((t) => [t.name, size(t)]));
  for (const [moment, arrays] of [["m", opt.m], ["v", opt.v]] as const) {
    for (const [name, values] of Object.entries(arrays)) {
      const field = `state.optimizer.${moment}.${name}`;
      const n = sizes.get(name);
      if (n === undefined) throw new InputError(f(field), `not a trained tensor of rule '${run.rule}'; expected one of ${[...sizes.keys()].join(", ")}`);
      if (values.length !== n) throw new InputError(f(field), `expected ${n} numbers (the size of ${name}), got ${values.length}`);
      if (moment === "v") {
        const i = values.findIndex((x) => x < 0);
        if (i >= 0) throw new InputError(f(`${field}[${i}]`), `expected a number >= 0 (Adam's second moment is a mean of squares), got ${values[i]}`);
      }
    }
  }
  if (cp.state.device !== undefined && run.rule === "eprop") {
    checkEpropBlob(Buffer.from(cp.state.device, "base64"), cp, run.base as Case, run.optimizer, f("state.device"));
  }
}

const MAGIC = 0x4b435045; // "EPCK"
const HEADER = 96;

/** e-prop's board checkpoint blob (device/rules/eprop/handlers.ts, CHECKPOINT): a 96-byte header, then the arena. */
function checkEpropBlob(blob: Buffer, cp: Checkpoint, base: Case, optimizer: OptimizerConfig, field: string): void {
  const bad = (why: string): never => {
    throw new InputError(field, why);
  };
  if (blob.length < HEADER) bad(`expected a board checkpoint of at least ${HEADER} bytes, got ${blob.length}`);
  if (blob.readUInt32LE(0) !== MAGIC) bad("expected an e-prop board checkpoint ('EPCK' header)");
  if (blob.readUInt32LE(4) !== 1) bad(`expected board checkpoint version 1, got ${blob.readUInt32LE(4)}`);
  if (blob.readUInt32LE(8) !== blob.length) bad(`header says ${blob.readUInt32LE(8)} bytes, the blob has ${blob.length}`);
  if (crc32c(blob, 16, blob.length) !== blob.readUInt32LE(12)) bad("CRC-32C mismatch: the board checkpoint is damaged");
  const m = base.model;
  const dims = { nIn: blob.readUInt32LE(16), nRec: blob.readUInt32LE(20), nOut: blob.readUInt32LE(24) };
  if (dims.nIn !== m.nIn || dims.nRec !== m.nRec || dims.nOut !== m.nOut) {
    bad(`holds a model of nIn ${dims.nIn} x nRec ${dims.nRec} x nOut ${dims.nOut}, the run's is ${m.nIn} x ${m.nRec} x ${m.nOut}`);
  }
  const flags = blob.readUInt32LE(28);
  const adam = (flags & FLAG.ADAM) !== 0;
  if (adam !== (optimizer.kind === "adam")) bad(`was taken with optimizer ${adam ? "adam" : "gd"}, the run uses ${optimizer.kind}`);
  const updates = blob.readUInt32LE(36);
  if (updates !== cp.iteration) bad(`holds ${updates} updates, the host checkpoint ${cp.iteration}`);
  if (adam && blob.readUInt32LE(32) !== cp.iteration) bad(`Adam step ${blob.readUInt32LE(32)} differs from the host checkpoint's ${cp.iteration}`);

  // The arena as the firmware lays it out (scalar build: one lane; W[p][j] at p*S + j).
  const plan = planArena(dims, flags, 1);
  if (HEADER + plan.bytes !== blob.length) bad(`expected ${HEADER + plan.bytes} bytes for this model, got ${blob.length}`);
  const at = (name: string) => HEADER + plan.fields.find((x) => x.name === name)!.offset;
  const S = plan.stride;
  const w = at("w");
  const p = cp.state.params as Case["params"];
  const same = (off: number, host: number, what: string) => {
    const dev = blob.readFloatLE(off);
    if (!Number.isFinite(dev)) bad(`${what} is ${dev} on the board`);
    if (dev !== Math.fround(host)) bad(`${what} is ${dev} on the board but ${host} in the host checkpoint: the two are not of the same moment`);
  };
  for (let j = 0; j < m.nRec; j++) {
    for (let i = 0; i < m.nIn; i++) same(w + 4 * (i * S + j), p.wIn[j]![i]!, `wIn[${j}][${i}]`);
    for (let k = 0; k < m.nRec; k++) same(w + 4 * ((m.nIn + k) * S + j), p.wRec[j]![k]!, `wRec[${j}][${k}]`);
    for (let k = 0; k < m.nOut; k++) same(at("wOut") + 4 * (k * S + j), p.wOut[k]![j]!, `wOut[${k}][${j}]`);
  }
  for (let k = 0; k < m.nOut; k++) same(at("bOut") + 4 * k, p.bOut[k]!, `bOut[${k}]`);
  if (adam) {
    for (const name of ["vW", "vOut", "vB"] as const) {
      const fp = plan.fields.find((x) => x.name === name)!;
      for (let e = 0; e < fp.bytes / 4; e++) {
        const v = blob.readFloatLE(HEADER + fp.offset + 4 * e);
        if (!(v >= 0) || !Number.isFinite(v)) bad(`Adam's second moment ${name}[${e}] is ${v} on the board (expected a finite number >= 0)`);
      }
    }
  }
}
