// Several boards, one run: throughput of synchronous data-parallel e-prop training on 1, 2 and 4
// simulated boards (each a separate process on its own pty), side by side in one process, rounds
// interleaved so that the machine's load hits every configuration alike. Two workloads with
// synthetic spikes and Adam: short trials (Fashion-MNIST's shape: 196 inputs, 100 LIF, 10 outputs,
// ce over the last 20 of 50 steps, batch 32), where the link dominates, and long ones (evidence
// accumulation's: 40 inputs, 100 LIF, 2 outputs, 1000 steps, batch 8), where the boards' compute
// does. One board trains the single-board way (the board sums the batch and applies it, nothing
// read back); 2 and 4 boards go through host/train/replicas.ts.
import { randomCase } from "../host/case/random.ts";
import { connectBoard, DEFAULT_WAIT_S } from "../host/link/connect-board.ts";
import type { Case } from "../host/model/types.ts";
import { Pcg32 } from "../host/rng/pcg32.ts";
import type { Trial } from "../host/tasks/task.ts";
import { DeviceTarget } from "../host/train/device-target.ts";
import { runLoop } from "../host/train/loop.ts";
import { parseOptimizer } from "../host/train/optimizer.ts";
import { ReplicaTarget } from "../host/train/replicas.ts";
import type { TrainTarget } from "../host/train/target.ts";
import { startReplica } from "../host/train/targets.ts";
import type { RunSpec } from "../host/train/training.ts";
import type { BenchSection } from "./section.ts";
import { median } from "./stats.ts";

interface Workload {
  name: string;
  nIn: number;
  nRec: number;
  nOut: number;
  T: number;
  decision: number;
  B: number;
  updates: number;
}

const WORKLOADS: Workload[] = [
  { name: "short trials (Fashion-MNIST's shape)", nIn: 196, nRec: 100, nOut: 10, T: 50, decision: 20, B: 32, updates: 4 },
  { name: "long trials (evidence accumulation's shape)", nIn: 40, nRec: 100, nOut: 2, T: 1000, decision: 100, B: 8, updates: 3 },
];
const BOARDS = [1, 2, 4];
const ROUNDS = 3;

function spec(w: Workload): RunSpec<Case, Trial> {
  const { nIn, nRec, nOut, T, B } = w;
  const base = randomCase({ seed: 3, nIn, nRec, nOut, T, loss: "ce", recurrent: true, inputRate: 0.02 });
  const rng = new Pcg32(11, 3);
  const trials: Trial[] = Array.from({ length: B * (w.updates + 1) }, (_, i) => {
    const label = i % nOut;
    const hot = Array.from({ length: nOut }, (_, k) => (k === label ? 1 : 0));
    return {
      inputs: Array.from({ length: T }, () => Array.from({ length: nIn }, () => (rng.uniform() < 0.02 ? 1 : 0))),
      targets: Array.from({ length: T }, () => hot.slice()),
      mask: Array.from({ length: T }, (_, t) => (t >= T - w.decision ? 1 : 0)),
    };
  });
  return {
    name: "bench-replicas", rule: "eprop", base, optimizer: parseOptimizer({ kind: "adam", lr: 0.005 }), iterations: w.updates + 1,
    trial: (n) => trials[(n - 1) % trials.length]!, freeze: [], extras: {}, batch: { size: B, reduction: "mean" },
  };
}

interface Round {
  ms: number;
  phases?: ReplicaTarget["phaseMs"];
}

const timeouts = { waitMs: DEFAULT_WAIT_S * 1000 };

async function round(w: Workload, boards: number): Promise<Round> {
  const s = spec(w);
  const initial = { params: structuredClone(s.base.params), B: s.base.feedback.B, optimizer: { step: 0, m: {}, v: {} } };
  const started = await Promise.all(Array.from({ length: boards }, () => startReplica("sim")));
  let target: TrainTarget;
  if (boards === 1) {
    target = await DeviceTarget.open(s, initial, await connectBoard({ board: "sim", port: started[0]!.port, timeouts }));
  } else {
    target = await ReplicaTarget.open(s, initial, { boards: started, timeouts });
  }
  try {
    // update 1 warms the boards up (their wasm compiles lazily, then tiers up): not timed
    let t0 = 0;
    let warm: ReplicaTarget["phaseMs"] | undefined;
    await runLoop(s, target, {
      start: 1, checkpointEvery: w.updates + 2, record: () => false,
      onIteration: (n) => {
        if (n !== 1) return;
        t0 = performance.now();
        if (target instanceof ReplicaTarget) warm = { ...target.phaseMs };
      },
    });
    const ms = performance.now() - t0;
    if (!(target instanceof ReplicaTarget)) return { ms };
    const p = target.phaseMs;
    return { ms, phases: { shares: p.shares - warm!.shares, reruns: p.reruns - warm!.reruns, reduce: p.reduce - warm!.reduce, apply: p.apply - warm!.apply, replace: p.replace - warm!.replace } };
  } finally {
    await target.close();
    if (boards === 1) await started[0]!.release?.(); // ReplicaTarget.close releases its own boards
  }
}

async function measure(w: Workload, log: (line: string) => void): Promise<string[]> {
  const rounds = new Map<number, Round[]>(BOARDS.map((b) => [b, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of BOARDS) {
      const x = await round(w, b);
      rounds.get(b)!.push(x);
      log(`replicas: ${w.name}, round ${r + 1}/${ROUNDS}, ${b} board(s): ${(x.ms / w.updates).toFixed(0)} ms per update`);
    }
  }
  const trials = w.B * w.updates; // timed: updates 2 .. updates + 1
  const med = (b: number) => median(rounds.get(b)!.map((x) => x.ms));
  const base = med(1);
  const phase = (b: number, k: keyof ReplicaTarget["phaseMs"]) => b === 1 ? "" : (median(rounds.get(b)!.map((x) => x.phases![k])) / w.updates).toFixed(0);
  const accKiB = (((w.nIn + w.nRec) * w.nRec + w.nOut * w.nRec + w.nOut) * 4) / 1024;
  return [
    `**${w.name}**: ${w.nIn} spike inputs, ${w.nRec} LIF, ${w.nOut} outputs, T = ${w.T} steps, batch ${w.B}, ${w.updates} timed updates `
      + "after one that warms the boards up; "
      + `each board's accumulator is ${accKiB.toFixed(0)} KiB each way per update.`,
    "",
    "| boards | ms per update | trials/s | steps/s | vs 1 board | shares | reduce | apply |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...BOARDS.map((b) => {
      const ms = med(b);
      return `| ${b} | ${(ms / w.updates).toFixed(0)} | ${((trials * 1000) / ms).toFixed(1)} | ${((trials * w.T * 1000) / ms).toFixed(0)} | `
        + `${(base / ms).toFixed(2)}x | ${phase(b, "shares")} | ${phase(b, "reduce")} | ${phase(b, "apply")} |`;
    }),
    "",
  ];
}

export const replicasSection: BenchSection = {
  name: "replicas",
  async run(log) {
    const tables: string[] = [];
    for (const w of WORKLOADS) tables.push(...(await measure(w, log)));
    const cores = (await import("node:os")).cpus().length;
    return [
      "## Several boards: data-parallel training on 1, 2, 4 simulated boards",
      "",
      "One e-prop run on N simulated boards, each a separate process behind its own pty (Adam, synthetic spikes); medians of",
      `${ROUNDS} rounds, the configurations interleaved in each round. 1 board trains the single-board way (the board sums the`,
      "batch, one APPLY, nothing read back); 2 and 4 boards split each batch into shares (host/train/replicas.ts). Steps/s =",
      "trial time steps per second. Where an update's time goes with several boards (ms per update, medians): `shares` =",
      "every board running its share (trials streamed in RUN frames) and its accumulator read back with GRADS; `reduce` =",
      "the host's float64 sum; `apply` = the sum written to every board (WRITE ids 8..11) and the APPLY.",
      "",
      ...tables,
      `This machine has ${cores} cores, shared by the host process, the N board processes and whatever else runs on it.`,
      "",
    ].join("\n");
  },
};
