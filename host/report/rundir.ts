// The run directory: what `edgeprop train` writes and `edgeprop report` reads (format in
// host/report/README.md). Plain JSON / JSON-lines so a run can be inspected with `jq`.
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../input/errors.ts";
import type { Case, Matrix, Trajectory } from "../model/types.ts";

export const RUN_FORMAT = "edgeprop-run/1";

export const RUN_FILES = {
  run: "run.json",
  metrics: "metrics.jsonl",
  trajectory: "trajectory.json",
  summary: "summary.json",
  report: "report.html",
} as const;

/**
 * The marker a folder gets when edgeprop creates it for its output. edgeprop writes into (and
 * deletes) only folders that hold it, or that are new or empty: a mistyped --out never
 * overwrites someone's files.
 */
export const OUTPUT_MARKER = ".edgeprop-output";

export type OutputKind = "run" | "demo";

/** What a folder is: not there, empty, edgeprop output of some kind, or anything else. */
function folderState(dir: string): "absent" | "empty" | OutputKind | "foreign" {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return "absent";
  }
  if (!st.isDirectory()) return "foreign";
  const marker = join(dir, OUTPUT_MARKER);
  if (existsSync(marker)) {
    const kind = readFileSync(marker, "utf8").trim();
    return kind === "run" || kind === "demo" ? kind : "foreign";
  }
  return readdirSync(dir).length === 0 ? "empty" : "foreign";
}

/** Refuses a folder that claimOutputDir would refuse, without writing anything. */
export function checkOutputDir(dir: string, kind: OutputKind, field: string): void {
  const state = folderState(dir);
  if (state !== "absent" && state !== "empty" && state !== kind) {
    throw new InputError(field, `${dir} is not an edgeprop ${kind} folder (it has files and no ${OUTPUT_MARKER} of kind '${kind}'); give a new or empty folder`);
  }
}

/**
 * Makes `dir` an edgeprop output folder of `kind` (created if absent, marked if empty), or
 * accepts it if it already is one. `field` names the flag the folder came from.
 */
export function claimOutputDir(dir: string, kind: OutputKind, field: string): void {
  checkOutputDir(dir, kind, field);
  if (folderState(dir) === kind) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, OUTPUT_MARKER), kind + "\n");
}

/** True when `dir` is an edgeprop output folder of `kind` (written by claimOutputDir). */
export function isOutputDir(dir: string, kind: OutputKind): boolean {
  return folderState(dir) === kind;
}

/** Deletes an earlier output folder of `kind`; refuses anything else. Absent is fine. */
export function removeOutputDir(dir: string, kind: OutputKind, field: string): void {
  const state = folderState(dir);
  if (state === "absent") return;
  if (state !== kind && state !== "empty") {
    throw new InputError(field, `${dir} exists and is not an edgeprop ${kind} folder (no ${OUTPUT_MARKER}): refusing to replace it`);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A run's name as a folder name: letters, digits, '.', '_', '-' — never a path. */
export function checkRunName(name: string, field: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new InputError(field, `expected a run name of at most 100 letters, digits, '.', '_' or '-' (not a path), got ${JSON.stringify(name.slice(0, 60))}; or give the folder with --out`);
  }
  return name;
}

/** run.json: the run's configuration. Only `board` and `rule` are required; the rest is shown as given. */
export interface RunInfo {
  format?: string;
  task?: string;
  taskOptions?: Record<string, unknown>;
  seed?: number;
  rule: string;
  board: string;
  optimizer?: unknown;
  iterations?: number;
  feedback?: string;
  model?: Record<string, unknown>;
  /** The task's metric (host/tasks MetricInfo), so the report can draw the chance level. */
  metric?: { name: string; higherIsBetter?: boolean; chance?: number; description?: string };
  /** Path of the --config file the run came from, if any. */
  config?: string;
  started?: string;
  finished?: string;
  /** Anything else worth showing in the report's configuration block. */
  extra?: Record<string, unknown>;
}

/** One line of metrics.jsonl: at least iteration and loss; any other numeric field is a metric. */
export interface MetricRow {
  iteration: number;
  loss: number;
  /** Training metric of this iteration's trial (e.g. accuracy 0/1, nmse), if computed. */
  accuracy?: number;
  nmse?: number;
  recallError?: number;
  /** Held-out metric, written every few iterations, and how many held-out trials it used. */
  test?: number;
  testTrials?: number;
  /** Wall time since the run started, ms. */
  elapsedMs?: number;
  /** Per-layer losses of a layer stack (DECOLLE's E^l), drawn as one curve per layer. */
  layerLoss?: number[];
  [key: string]: number | number[] | undefined;
}

/** trajectory.json: one sample trial, as run with the weights at `iteration`. */
export interface TrajectorySample {
  iteration?: number;
  dt?: number;
  title?: string;
  inputs: Matrix; // [T][nIn], spikes
  z: Matrix; // [T][nRec], spikes
  y: Matrix; // [T][nOut], readout
  targets: Matrix; // [T][nOut]
  mask?: number[]; // [T]
  loss?: number;
  label?: number;
  /** A layer stack: every layer's spikes z [T][n_l] (and readout, loss), bottom first; drawn as one raster each instead of `z`. */
  layers?: Array<{ name: string; z: Matrix; y?: Matrix; loss?: number }>;
}

/** summary.json `confusion`: counts[true class][predicted class] over nTrials samples of a split. */
export interface ConfusionFigure {
  labels: string[];
  counts: number[][];
  split: string;
  nTrials: number;
}

/** summary.json `states`: network states of a few samples, each layer drawn as a [rows, cols] heat-map of values in [0, 1]. */
export interface StatesFigure {
  title: string;
  layers: { name: string; shape: [number, number] }[];
  /** Per sample, one row per phase; a null layer is not drawn. */
  samples: { label: string; phases: { name: string; layers: (number[] | null)[] }[] }[];
}

/** summary.json: the final evaluation (optional), and figures of the final parameters when the rule gives them. */
export interface RunSummary {
  metric?: { name: string; value: number; chance?: number; higherIsBetter?: boolean; nTrials?: number; split?: string };
  finalLoss?: number;
  iterations?: number;
  elapsedMs?: number;
  confusion?: ConfusionFigure;
  states?: StatesFigure;
  [key: string]: unknown;
}

export interface RunData {
  dir: string;
  run: RunInfo;
  metrics: MetricRow[];
  trajectory?: TrajectorySample;
  summary?: RunSummary;
}

/** Build a trajectory sample from a case and the reference forward pass. */
export function trajectorySample(c: Case, traj: Trajectory, iteration?: number): TrajectorySample {
  return { iteration, dt: c.model.dt, inputs: c.inputs, z: traj.z, y: traj.y, targets: c.targets, mask: c.mask, loss: traj.loss };
}

/**
 * Writes a run directory incrementally (metrics are appended, so `--resume` can continue a file).
 * The folder must be new, empty or already a run (claimOutputDir): nothing else is written to.
 */
export class RunWriter {
  constructor(readonly dir: string, field = "--out") {
    claimOutputDir(dir, "run", field);
  }
  writeRun(run: RunInfo): void {
    writeFileSync(join(this.dir, RUN_FILES.run), JSON.stringify({ format: RUN_FORMAT, ...run }, null, 2) + "\n");
  }
  appendMetric(row: MetricRow): void {
    appendFileSync(join(this.dir, RUN_FILES.metrics), JSON.stringify(row) + "\n");
  }
  writeTrajectory(sample: TrajectorySample): void {
    writeFileSync(join(this.dir, RUN_FILES.trajectory), JSON.stringify(sample));
  }
  writeSummary(summary: RunSummary): void {
    writeFileSync(join(this.dir, RUN_FILES.summary), JSON.stringify(summary, null, 2) + "\n");
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new InputError(path, `expected valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function checkMatrix(x: unknown, field: string, rows?: number): Matrix {
  if (!Array.isArray(x) || (rows !== undefined && x.length !== rows)) {
    throw new InputError(field, `expected an array of ${rows ?? "T"} rows`);
  }
  x.forEach((row, t) => {
    if (!Array.isArray(row)) throw new InputError(`${field}[${t}]`, "expected an array of numbers");
  });
  return x as Matrix;
}

/** Read and check a run directory. Missing run.json or metrics.jsonl is an InputError. */
export function readRunDir(dir: string): RunData {
  if (!existsSync(dir)) throw new InputError(dir, "run directory not found");
  const runPath = join(dir, RUN_FILES.run);
  if (!existsSync(runPath)) throw new InputError(runPath, "missing: a run directory holds run.json (see host/report/README.md)");
  const run = readJson(runPath);
  if (!isObj(run)) throw new InputError(runPath, "expected a JSON object");
  for (const k of ["board", "rule"] as const) {
    if (typeof run[k] !== "string") throw new InputError(`${runPath}: ${k}`, "expected a string");
  }
  const metricsPath = join(dir, RUN_FILES.metrics);
  if (!existsSync(metricsPath)) throw new InputError(metricsPath, "missing: one JSON object per iteration ({iteration, loss, ...})");
  const metrics: MetricRow[] = [];
  readFileSync(metricsPath, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        throw new InputError(`${metricsPath}:${i + 1}`, "expected one JSON object per line");
      }
      if (!isObj(row) || typeof row.iteration !== "number" || typeof row.loss !== "number") {
        throw new InputError(`${metricsPath}:${i + 1}`, "expected an object with numeric iteration and loss");
      }
      metrics.push(row as MetricRow);
    });
  let trajectory: TrajectorySample | undefined;
  const trajPath = join(dir, RUN_FILES.trajectory);
  if (existsSync(trajPath)) {
    const t = readJson(trajPath);
    if (!isObj(t)) throw new InputError(trajPath, "expected a JSON object");
    const inputs = checkMatrix(t.inputs, `${trajPath}: inputs`);
    const T = inputs.length;
    checkMatrix(t.z, `${trajPath}: z`, T);
    checkMatrix(t.y, `${trajPath}: y`, T);
    checkMatrix(t.targets, `${trajPath}: targets`, T);
    if (t.mask !== undefined && (!Array.isArray(t.mask) || t.mask.length !== T)) throw new InputError(`${trajPath}: mask`, `expected an array of ${T} numbers`);
    trajectory = t as unknown as TrajectorySample;
  }
  const summaryPath = join(dir, RUN_FILES.summary);
  const summary = existsSync(summaryPath) ? (readJson(summaryPath) as RunSummary) : undefined;
  return { dir, run: run as unknown as RunInfo, metrics, trajectory, summary };
}
