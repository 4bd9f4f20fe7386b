// SAL feedback for e-prop's training (issue 12): `"feedback": {"kind": "sal", ...}` in a run config,
// `--feedback sal` with a task. Wraps e-prop's recurrent training: a run without SAL is passed
// through unchanged; a SAL run gets its schedule (sal-config.ts) in `extras.sal` (so it enters the
// run's identity), B = 0 until the stream draws it at iteration 1, the SAL record in its state
// and checkpoints, and its own targets: sal-host.ts on the host, sal-board.ts on a board.
// Every iteration's metrics row carries angleDeg, the angle between B and wOut^T after its phase.
import { InputError } from "../../input/errors.ts";
import { obj, type Json } from "../../input/fields.ts";
import type { Case, GradResult, Matrix } from "../../model/types.ts";
import type { Trial } from "../../tasks/task.ts";
import { batchOf } from "../../train/batch.ts";
import { trainedTensors } from "../../train/tensors.ts";
import type { DeviceTrainer, RuleTraining, RunSpec } from "../../train/training.ts";
import { salDevice } from "./sal-board.ts";
import { parseSalSchedule, salScheduleJson, type SalSchedule } from "./sal-config.ts";
import { salStateZero, salTensors, SalF32Target, SalHostTarget, type SalRunState } from "./sal-host.ts";
import type { RecurrentState } from "./training.ts";

const zeros = (rows: number, cols: number): Matrix => Array.from({ length: rows }, () => new Array<number>(cols).fill(0));

const isSal = (c: Case) => c.feedback.kind === "sal";

/** The base case of a SAL run: feedback "sal" with B = 0 (the board draws B; nothing is sent). */
function salBase(c: Case): Case {
  return { ...c, feedback: { kind: "sal", B: zeros(c.model.nRec, c.model.nOut) } };
}

/** SAL's loop is one trial, one update, one alignment phase at a constant rate: batches and schedules are refused. */
function salOneTrialPerUpdate(spec: RunSpec<unknown, unknown>): void {
  if (batchOf(spec).size > 1) throw new InputError("batchSize", `feedback 'sal' trains one trial per update (an alignment phase follows every update): use batchSize 1`);
  if (spec.lrSchedule) throw new InputError("lrSchedule", "feedback 'sal' trains at a constant learning rate: remove lrSchedule");
}

/** e-prop's training with `sal` feedback added; `grad` is e-prop's float64 gradient. */
export function withSal(
  base: RuleTraining<Case, RecurrentState, Trial>,
  grad: (c: Case) => GradResult,
): RuleTraining<Case, RecurrentState, Trial> {
  const baseDevice = base.device!;
  const device: DeviceTrainer<Case, RecurrentState, Trial> = {
    check(spec) {
      if (!isSal(spec.base)) return baseDevice.check?.(spec);
      salOneTrialPerUpdate(spec);
      salDevice.check!(spec);
    },
    load: (client, spec, state) => (isSal(spec.base) ? salDevice.load(client, spec, state as SalRunState) : baseDevice.load(client, spec, state)),
    iterate: (client, spec, item, n, record) => (isSal(spec.base) ? salDevice : baseDevice).iterate(client, spec, item, n, record),
    state: (client, spec, done) => (isSal(spec.base) ? salDevice : baseDevice).state(client, spec, done),
    // e-prop's mini-batches and schedules stay e-prop's: a SAL run refuses them in check()
    ...(baseDevice.batch ? { batch: baseDevice.batch } : {}),
    ...(baseDevice.schedules ? { schedules: baseDevice.schedules } : {}),
  };
  return {
    ...base,

    parseRun(r, source) {
      const fb = r.feedback;
      if (fb === undefined || obj(fb, "feedback").kind !== "sal") return base.parseRun(r, source);
      const schedule = parseSalSchedule(fb, 1);
      const run = base.parseRun({ ...r, feedback: { kind: "symmetric" } }, source);
      const sal = salScheduleJson(schedule);
      return { ...run, base: salBase(run.base), info: { ...run.info, feedback: "sal" }, extras: { ...run.extras, sal } };
    },

    fromTask(o) {
      if (o.feedback !== "sal") return base.fromTask!(o);
      const schedule: SalSchedule = parseSalSchedule({ kind: "sal" }, o.seed);
      const sal = salScheduleJson(schedule);
      const s = base.fromTask!({ ...o, feedback: "random" });
      return {
        ...s,
        spec: { ...s.spec, base: salBase(s.spec.base), extras: { ...s.spec.extras, sal } },
        info: { ...s.info, feedback: "sal", extra: { ...s.info.extra, sal } },
        definition: { ...(s.definition as object), feedback: "sal", sal },
      };
    },

    tensors: (c) => (isSal(c) ? [...base.tensors(c), ...salTensors(c.model.nRec, c.model.nOut)] : base.tensors(c)),

    initialState(spec) {
      const s = base.initialState(spec);
      return isSal(spec.base) ? ({ ...s, sal: salStateZero(spec.base.model.nRec, spec.base.model.nOut) } as SalRunState) : s;
    },

    host(spec, initial) {
      if (!isSal(spec.base)) return base.host(spec, initial);
      salOneTrialPerUpdate(spec);
      const sal = spec as RunSpec<Case, Trial>;
      const st = initial as SalRunState;
      if ((sal.extras.sal as Record<string, Json>).precision === "f32") return new SalF32Target(sal, st);
      return new SalHostTarget(sal, st, grad, trainedTensors(this.tensors(spec.base), spec.freeze));
    },

    device,
  };
}
