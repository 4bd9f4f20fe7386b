// e-prop with SAL feedback on a board: the board learns B itself. The host configures the model
// with feedback "sal", writes wIn, wRec, wOut and bOut (never B), and around e-prop's trial + APPLY
// sends ALIGN (PROTOCOL.md): at iteration 1 with `init` (the board draws its thresholds and B from
// its PCG32 stream) and the initial phase, after every update a phase of `steps`. Checkpoints are
// the board's blob, which holds B and the whole SAL state (arena); the host decodes that state
// into the checkpoint's `sal` record so it reads like the host reference's.
import { InputError } from "../../input/errors.ts";
import { planModel } from "../../device/planner.ts";
import type { Case } from "../../model/types.ts";
import { MsgType, ParamId } from "../../../protocol/messages.ts";
import type { Body } from "../../../protocol/messages.ts";
import { angleOfCos } from "../../reference/sal.ts";
import type { DeviceClient } from "../../session/client.ts";
import type { Trial } from "../../tasks/task.ts";
import type { TrialOutcome } from "../../train/target.ts";
import type { DeviceTrainer, RunSpec } from "../../train/training.ts";
import { epropDevice } from "./device-trainer.ts";
import { salDecays, SAL_SEQ, type SalSchedule } from "./sal-config.ts";
import { EPCK_HEADER, salFromArena } from "./sal-blob.ts";
import type { SalRunState } from "./sal-host.ts";

/** The SAL schedule of a run whose feedback is "sal" (host/rules/eprop/sal-training.ts puts it in extras). */
export function scheduleOf(spec: RunSpec<Case, unknown>): SalSchedule {
  return spec.extras.sal as unknown as SalSchedule;
}

/** ALIGN's `init` map: the schedule's SAL parameters (decays in float64, rounded once on the board). */
export function alignInit(s: SalSchedule): Body {
  const { alpha, kappa, lambda } = salDecays(s);
  return {
    seed: s.seed, seq: SAL_SEQ, alpha, kappa, lambda, delta: s.delta, wRms: s.wRms, rhoTarget: s.rhoTarget, etaH: s.etaH,
    eta0: s.eta0, Ta: s.Ta, theta: s.theta, jitter: s.jitter, bScale: s.bScale,
  };
}

export interface AlignResult {
  /** Steps run, and the eta schedule's t after them. */
  n: number;
  t: number;
  lower: number;
  upper: number;
  /** gF = gB of the phase. */
  gain: number;
  /** cos(vec B, vec wOut^T) after the phase, computed on the board. */
  cos: number;
}

/** One alignment phase on the board (ALIGN; a long one spans polls, the board ACKs retransmissions meanwhile). */
export async function align(client: DeviceClient, body: { n: number; restart?: boolean; init?: Body }): Promise<AlignResult> {
  const r = await client.request(MsgType.ALIGN, body);
  return { n: r.n as number, t: r.t as number, lower: r.lo as number, upper: r.up as number, gain: r.gain as number, cos: r.cos as number };
}

export const salDevice: DeviceTrainer<Case, SalRunState, Trial> = {
  check(spec) {
    epropDevice.check!(spec);
    if (scheduleOf(spec).precision !== "f64") throw new InputError("feedback.precision", "is the host reference's (--board host); a board computes in its own numerics");
  },

  async load(client, spec, state) {
    const info = client.session.info;
    if (info && !info.caps.includes("sal")) {
      throw new InputError("--feedback", `board '${info.board}' runs firmware without SAL alignment (no 'sal' in HELLO caps): build and flash current firmware`);
    }
    const { model } = spec.base;
    if (state.device) {
      await client.checkpointWrite(Buffer.from(state.device, "base64"), model, "sal");
      return;
    }
    await client.configure(model, "sal", { optimizer: spec.optimizer.kind });
    const p = state.params;
    await client.writeArray(ParamId.wIn, p.wIn.flat());
    await client.writeArray(ParamId.wRec, p.wRec.flat());
    await client.writeArray(ParamId.wOut, p.wOut.flat());
    await client.writeArray(ParamId.bOut, p.bOut);
  },

  async iterate(client, spec, trial, n, record): Promise<TrialOutcome> {
    const s = scheduleOf(spec);
    // Iteration 1 starts from a board that has never aligned (a later one from a checkpoint blob).
    if (n === 1) await align(client, { init: alignInit(s), n: s.initialSteps });
    const out = await epropDevice.iterate(client, spec, trial, n, record);
    const a = await align(client, { n: s.steps, restart: s.restart === "phase" });
    return { ...out, metrics: { angleDeg: angleOfCos(a.cos) } };
  },

  async state(client, spec, done) {
    const base = await epropDevice.state(client, spec, done);
    const blob = Buffer.from(base.device!, "base64");
    const plan = planModel(spec.base.model, "sal", { optimizer: spec.optimizer.kind });
    const { B, sal } = salFromArena(blob, plan, EPCK_HEADER);
    return { ...base, B, sal };
  },
};
