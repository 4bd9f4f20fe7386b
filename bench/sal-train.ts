// SAL feedback in on-device e-prop training (issue 12): the firmware (WASM, in this process behind
// the real protocol) trains the results rows' evidence-accumulation and pattern-generation
// networks, learning B itself in ALIGN phases. Measures the angle between B and wOut^T through
// training after the initial phase, held-out accuracy with feedback sal vs symmetric vs random on
// the same seeds (the runs of RESULTS.md's seeded rows, bit for bit: same firmware, same
// messages), and what alignment costs per trial: CPU time of the ALIGN request vs the rest of an
// iteration (RUN of the trial, APPLY), medians over iterations.
import type { FeedbackKind } from "../host/model/types.ts";
import type { Json } from "../host/input/fields.ts";
import { SAL_SCHEDULE_DEFAULTS, type SalSchedule } from "../host/rules/eprop/sal-config.ts";
import { SAL_SEEDS, salRows } from "../host/rules/eprop/sal-results.ts";
import { trainingOf } from "../host/rules/index.ts";
import type { ResultRow } from "../host/results/rows.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { startInProcessBoard } from "../host/sim/inprocess.ts";
import type { TaskOptions } from "../host/tasks/task.ts";
import { parseOptimizer } from "../host/train/optimizer.ts";
import { setupFromTask } from "../host/train/setup.ts";
import type { TrainState } from "../host/train/target.ts";
import { MsgType } from "../protocol/messages.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

interface Trained {
  /** Held-out metric with the final weights. */
  value: number;
  /** angleDeg after every iteration's phase (sal only). */
  angles: number[];
  /** CPU ms per iteration: ALIGN requests, and everything else of the iteration (RUN, APPLY); iteration 1 (the initial phase) left out. */
  alignMs: number[];
  trialMs: number[];
}

/** Trains on the firmware in this process as `edgeprop train --board sim` does (DeviceTrainer of e-prop), timing ALIGN apart. */
async function trainOnFirmware(o: {
  task: string; taskOptions: Partial<TaskOptions>; feedback: FeedbackKind; seed: number; iterations: number; lr: number; testTrials: number;
  /** Schedule fields other than the defaults (sal only). */
  schedule?: Partial<SalSchedule>;
}): Promise<Trained> {
  const setup = setupFromTask({ ...o, quick: false, rule: "eprop", optimizer: parseOptimizer({ kind: "adam", lr: o.lr }) });
  const { spec } = setup;
  if (o.schedule) spec.extras = { ...spec.extras, sal: { ...(spec.extras.sal as Record<string, Json>), ...o.schedule } };
  const training = trainingOf("eprop");
  const trainer = training.device!;
  const { transport } = await startInProcessBoard();
  const client = new DeviceClient(new Session(transport, { timeoutMs: 5000, retries: 3 }));
  await client.hello();
  let align = 0;
  const request = client.request.bind(client);
  client.request = async (type, body, timeoutMs) => {
    if (type !== MsgType.ALIGN) return request(type, body, timeoutMs);
    const t0 = cpuMs();
    const r = await request(type, body, timeoutMs);
    align += cpuMs() - t0;
    return r;
  };
  try {
    await trainer.load(client, spec, training.initialState(spec));
    const out: Trained = { value: NaN, angles: [], alignMs: [], trialMs: [] };
    for (let n = 1; n <= spec.iterations; n++) {
      align = 0;
      const t0 = cpuMs();
      const r = await trainer.iterate(client, spec, spec.trial(n), n, false);
      const total = cpuMs() - t0;
      const angle = r.metrics?.angleDeg;
      if (typeof angle === "number") out.angles.push(angle);
      if (n > 1) out.alignMs.push(align), out.trialMs.push(total - align);
    }
    const state = (await trainer.state(client, spec, spec.iterations)) as TrainState;
    out.value = setup.evaluate!(state.params, o.testTrials).value;
    return out;
  } finally {
    await client.session.close();
  }
}

const row = (task: string, feedback: FeedbackKind): ResultRow => salRows().find((r) => r.task === task && r.feedback === feedback)!;
const fmtPct = (xs: number[]) => `${(100 * median(xs)).toFixed(1)} % (${xs.map((x) => (100 * x).toFixed(1)).join(", ")})`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export const salTrainSection: BenchSection = {
  name: "sal-train",
  async run(log) {
    const feedbacks: FeedbackKind[] = ["symmetric", "random", "sal"];
    // Accuracy and angle: the seeded RESULTS.md rows, on the in-process firmware.
    const acc = new Map<FeedbackKind, number[]>();
    const angleRows: string[] = [];
    const maxAngle = new Map<string, number>();
    const costRows: string[] = [];
    for (const task of ["evidence", "pattern"]) {
      for (const feedback of task === "evidence" ? feedbacks : (["sal"] as const)) {
        const r = row(task, feedback);
        for (const seed of SAL_SEEDS) {
          log(`  sal-train: ${task}, feedback ${feedback}, seed ${seed}: ${r.full.iterations} iterations`);
          const t = await trainOnFirmware({ task, taskOptions: r.full.taskOptions, feedback, seed, iterations: r.full.iterations, lr: r.full.lr, testTrials: r.full.testTrials });
          if (task === "evidence") acc.set(feedback, [...(acc.get(feedback) ?? []), t.value]);
          if (feedback !== "sal") continue;
          maxAngle.set(task, Math.max(maxAngle.get(task) ?? 0, ...t.angles));
          angleRows.push(
            `| ${task} | ${seed} | ${t.angles[0]!.toFixed(1)}° | ${Math.max(...t.angles).toFixed(1)}° | ${median(t.angles).toFixed(1)}° | ${t.angles.at(-1)!.toFixed(1)}° |`,
          );
          const a = median(t.alignMs), tr = median(t.trialMs);
          costRows.push(`| ${task} | ${seed} | ${tr.toFixed(2)} | ${a.toFixed(2)} | ${(a / tr).toFixed(3)} |`);
        }
      }
    }
    // Pattern generation's early updates (Adam, lr 0.01) turn wOut faster than 2000 steps a phase follow: the same seed with longer phases.
    const longer = { steps: 6000 };
    const pr = row("pattern", "sal").full;
    log(`  sal-train: pattern, feedback sal, seed 1, ${longer.steps} steps per phase`);
    const long = await trainOnFirmware({ task: "pattern", taskOptions: pr.taskOptions, feedback: "sal", seed: 1, iterations: pr.iterations, lr: pr.lr, testTrials: pr.testTrials, schedule: longer });
    const after10 = Math.max(...long.angles.slice(10));
    const [sym, rnd, sal] = feedbacks.map((f) => mean(acc.get(f)!));
    const ev = row("evidence", "sal").full;
    return [
      "## SAL feedback in on-device training (issue 12)",
      "",
      `The firmware (WASM, in this process behind the protocol) trains e-prop as \`edgeprop train --board sim\` does, on`,
      `RESULTS.md's seeded rows (seeds ${SAL_SEEDS.join(", ")}; evidence: ${ev.iterations} iterations, nRec 40, 3 cues, T = 235 ms;`,
      `pattern: ${row("pattern", "sal").full.iterations} iterations, nRec 50, T = 500 ms). Under \`sal\` the board draws B and learns it in ALIGN`,
      `phases: ${SAL_SCHEDULE_DEFAULTS.initialSteps} steps before the first trial, ${SAL_SCHEDULE_DEFAULTS.steps} after every update, one eta schedule (the defaults).`,
      "",
      `Angle between B and wOut^T after each iteration's phase (i.e. after the initial phase), per seed. Max over training: evidence **${maxAngle.get("evidence")!.toFixed(1)}°**, pattern **${maxAngle.get("pattern")!.toFixed(1)}°** (goal ≤ 20°).`,
      "",
      "| task | seed | after iteration 1 | max | median | final |",
      "| --- | --- | --- | --- | --- | --- |",
      ...angleRows,
      "",
      `Pattern generation, seed 1, with ${longer.steps} steps per phase: after iteration 1 ${long.angles[0]!.toFixed(1)}°, max after iteration 10`,
      `${after10.toFixed(1)}°, median ${median(long.angles).toFixed(1)}°, final ${long.angles.at(-1)!.toFixed(1)}°; NMSE ${long.value.toFixed(3)} (test trials ${pr.testTrials});`,
      `ALIGN / trial ${(median(long.alignMs) / median(long.trialMs)).toFixed(3)}.`,
      "",
      `Evidence accumulation, held-out accuracy (${ev.testTrials} test trials), median (per seed); means: symmetric ${(100 * sym!).toFixed(1)} %,`,
      `random ${(100 * rnd!).toFixed(1)} %, sal ${(100 * sal!).toFixed(1)} % (sal − symmetric ${(100 * (sal! - sym!)).toFixed(1)} points, sal − random ${(100 * (sal! - rnd!)).toFixed(1)} points):`,
      "",
      "| symmetric | random | sal |",
      "| --- | --- | --- |",
      `| ${feedbacks.map((f) => fmtPct(acc.get(f)!)).join(" | ")} |`,
      "",
      "Cost of alignment per trial on the device: CPU ms per iteration (medians over iterations 2 onward) of the ALIGN",
      "request vs the rest of the iteration (RUN of the trial with its e-prop step, APPLY), and their ratio:",
      "",
      "| task | seed | trial (RUN + APPLY) ms | ALIGN ms | ALIGN / trial |",
      "| --- | --- | --- | --- | --- |",
      ...costRows,
    ].join("\n");
  },
};
