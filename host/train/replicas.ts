// Several boards, one run (`--replicas N`, several `--port`): synchronous data-parallel training.
// Update n's batch is cut into contiguous shares, one per live board, in board order; each board
// accumulates its share's gradient at the same weights (DeviceTrainer `batch`), the host reads
// the accumulators (GRADS), sums them in float64 in share order, writes that sum back to every
// board and every board applies the same APPLY (same float32 gradient, same rate, same Adam step
// k): the boards' weights and Adam moments stay bit-identical, and any board's checkpoint blob
// is the run's. Why gradients and not weights: README "Training at scale".
//
// A board that fails (its process exits, its link times out, it reboots) is dropped from the
// update: the shares it did not deliver are re-run, each on its own, on a live board at the same
// weights, so the update is the one an uninterrupted run applies, bit for bit. After the update
// the board is started again when edgeprop started it (sim, QEMU), loaded with a live board's
// state (parameters, Adam moments: its checkpoint blob), and takes shares from the next update on.
import { DeviceError, ErrorCode } from "../../protocol/messages.ts";
import { InputError } from "../input/errors.ts";
import { connectBoard, type BoardConnection, type BoardTimeouts } from "../link/connect-board.ts";
import type { LinkStats } from "../link/link-stats.ts";
import type { DeviceClient } from "../session/client.ts";
import { batchDivisor, sumGradients } from "./batch.ts";
import { DeviceTarget } from "./device-target.ts";
import type { TrainState, TrainTarget, TrialOutcome } from "./target.ts";
import type { Tensor } from "./tensors.ts";
import type { DeviceTrainer, RunSpec } from "./training.ts";

/** One board of a replicated run. */
export interface ReplicaBoard {
  /** Its board id (boards/), for messages and the progress line; undefined: whatever answers on `port`. */
  board: string | undefined;
  port: string;
  /** Stops what was started to provide it (sim process, QEMU), at the end of the run. */
  release?: () => Promise<void>;
  /** Resolves when the board's process dies (boards edgeprop started): its link is dropped at once, not after timeouts. */
  exited?: () => Promise<unknown>;
  /** Starts a fresh board in place of a dead one (releasing the dead one); resolves to its port. Absent: it stays out. */
  relaunch?: () => Promise<string>;
}

export interface ReplicaOptions {
  boards: ReplicaBoard[];
  faultRate?: number;
  timeouts: BoardTimeouts;
  say?: (line: string) => void;
  /** Checks a board once it has answered (e.g. that the model fits its RAM); throws to refuse it. */
  check?: (conn: BoardConnection) => void;
  /** Iterations the initial state holds. */
  iteration?: number;
  /** After board b (its index in `boards`) ran item i of its share of update n: the events tests act on. */
  onItem?: (b: number, n: number, i: number) => void;
}

class Member {
  link: BoardConnection | null = null;
  /** The link statistics of its earlier connections (a replaced board's). */
  pastLinks: LinkStats[] = [];
  /** The board restarted (boot LOG) since it was loaded: its state is gone, the board is up. */
  rebooted = false;
  /** Out of the run for good (it failed and cannot be started again). */
  gone = false;
  trials = 0;
  busyMs = 0;
  /** Times it was replaced by a fresh board. */
  restarts = 0;

  constructor(
    readonly index: number,
    readonly spec: ReplicaBoard,
  ) {}

  get name(): string {
    return `${this.spec.board ?? this.link?.info.board ?? "board"}#${this.index + 1}`;
  }

  get live(): boolean {
    return this.link !== null && !this.rebooted;
  }

  get client(): DeviceClient {
    return this.link!.client;
  }

  /** Drops the link (outstanding requests fail now); the board stays allocated for a relaunch. */
  drop(): void {
    const l = this.link;
    this.link = null;
    if (l) {
      this.pastLinks.push(l.stats());
      void l.release();
    }
  }
}

/** A board failure (the update goes on without the board), as opposed to an error every board would give. */
function isBoardFailure(err: unknown): boolean {
  if (err instanceof InputError) return false;
  if (err instanceof DeviceError) return err.code === ErrorCode.NOT_CONFIGURED;
  return true;
}

/** Cuts `items` into `parts` contiguous shares, the first ones one longer when they do not divide. */
export function shares<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (let s = 0; s < parts; s++) {
    const len = Math.floor(items.length / parts) + (s < items.length % parts ? 1 : 0);
    out.push(items.slice(at, at + len));
    at += len;
  }
  return out;
}

export class ReplicaTarget<S extends TrainState = TrainState, Item = unknown> implements TrainTarget<S, Item> {
  /** Board replacements so far (asserted by tests). */
  replacements = 0;
  /** Wall time of the update phases so far (where the time goes: bench/replicas.ts). */
  readonly phaseMs = { shares: 0, reruns: 0, reduce: 0, apply: 0, replace: 0 };

  private constructor(
    private readonly spec: RunSpec<unknown, Item>,
    private readonly trainer: DeviceTrainer<unknown, S, Item>,
    private readonly members: Member[],
    private readonly o: ReplicaOptions,
    private done: number,
  ) {}

  /** The boards of the run, in order (e.g. `sim+qemu-mps2-an386`): what run.json records. */
  get board(): string {
    return this.members.map((m) => m.spec.board ?? m.link?.info.board ?? "port").join("+");
  }

  /** The rule's device trainer, if it trains one run on several boards (InputError otherwise): call it before starting boards. */
  static trainerFor<S extends TrainState, Item>(spec: RunSpec<unknown, Item>): DeviceTrainer<unknown, S, Item> {
    const trainer = DeviceTarget.trainerFor<S, Item>(spec);
    if (!trainer.batch) throw new InputError("--replicas", `rule '${spec.rule}' does not accumulate gradients on boards: it trains on one board`);
    return trainer;
  }

  /** Trains on `o.boards`; closing the target (or a failure to open it) releases them. */
  static async open<S extends TrainState, Item>(spec: RunSpec<unknown, Item>, initial: S, o: ReplicaOptions): Promise<ReplicaTarget<S, Item>> {
    const members = o.boards.map((b, i) => new Member(i, b));
    let target: ReplicaTarget<S, Item> | undefined;
    try {
      const trainer = ReplicaTarget.trainerFor<S, Item>(spec);
      const t = new ReplicaTarget(spec, trainer, members, o, o.iteration ?? initial.optimizer.step);
      target = t;
      await Promise.all(members.map((m) => t.connect(m, initial)));
    } catch (err) {
      if (target) await target.close();
      else await Promise.all(o.boards.map((b) => b.release?.().catch(() => {})));
      throw err;
    }
    return target;
  }

  /** Opens the member's link and puts `state` on its board. */
  private async connect(m: Member, state: S): Promise<void> {
    const o = this.o;
    const link = await connectBoard({
      board: m.spec.board, port: m.spec.port, faultRate: o.faultRate, timeouts: o.timeouts, rule: this.spec.rule, ...(o.say ? { say: o.say } : {}),
    });
    m.link = link;
    link.onBoot = () => {
      if (m.link === link) m.rebooted = true;
    };
    void m.spec.exited?.().then(() => {
      if (m.link === link) m.drop();
    });
    o.check?.(link);
    await this.trainer.load(m.client, this.spec, state);
    m.rebooted = false; // a boot LOG the board sent before its HELLO is not a restart
  }

  iterate(item: Item, record: boolean): Promise<TrialOutcome> {
    return this.iterateBatch([item], record);
  }

  async iterateBatch(items: Item[], record: boolean): Promise<TrialOutcome> {
    const n = this.done + 1;
    const live = this.members.filter((m) => m.live);
    if (live.length === 0) throw new Error(`every board of the run failed (${this.members.map((m) => m.name).join(", ")})`);
    const parts = shares(items, Math.min(live.length, items.length));
    const outcomes: TrialOutcome[][] = new Array(parts.length);
    const accs: Record<string, Tensor>[] = new Array(parts.length);

    // Each board its share, all at once; then the accumulators of those that delivered.
    let t = performance.now();
    const lap = (phase: keyof ReplicaTarget["phaseMs"]) => {
      const now = performance.now();
      this.phaseMs[phase] += now - t;
      t = now;
    };
    const first = await Promise.allSettled(parts.map((share, s) => this.runShare(live[s]!, share, s === parts.length - 1 && record, n)));
    const pending: number[] = [];
    first.forEach((r, s) => {
      if (r.status === "fulfilled") [outcomes[s], accs[s]] = r.value;
      else this.failed(live[s]!, r.reason, pending, s);
    });
    lap("shares");
    // Shares whose board failed: again, one at a time, on the live boards in order.
    for (const s of pending) {
      for (;;) {
        const m = this.members.find((x) => x.live);
        if (!m) throw new Error(`every board of the run failed during update ${n}`);
        try {
          [outcomes[s], accs[s]] = await this.runShare(m, parts[s]!, s === parts.length - 1 && record, n);
          break;
        } catch (err) {
          this.failed(m, err, [], s);
        }
      }
    }

    lap("reruns");
    // The boards' total, in share order, to every board; the same update everywhere.
    const total = sumGradients(accs);
    lap("reduce");
    const survivors = this.members.filter((m) => m.live);
    const applied = await Promise.allSettled(survivors.map(async (m) => {
      await this.trainer.batch!.write(m.client, this.spec, total);
      const r = await this.trainer.batch!.apply(m.client, this.spec, n, batchDivisor(this.spec));
      if (m.rebooted) throw new Error(`${m.name} restarted during update ${n}`);
      return r;
    }));
    let lr: number | undefined;
    applied.forEach((r, i) => {
      if (r.status === "fulfilled") lr ??= r.value.lr;
      else this.failed(survivors[i]!, r.reason, [], -1);
    });
    if (!this.members.some((m) => m.live)) throw new Error(`every board of the run failed during update ${n}`);
    this.done = n;
    lap("apply");
    await this.replaceFailed();
    lap("replace");

    const all = outcomes.flat();
    const last = all.at(-1)!;
    return { loss: all.reduce((s, o) => s + o.loss, 0) / all.length, z: last.z, y: last.y, lr };
  }

  /** Board m accumulates `share` at the current weights; returns its outcomes and accumulator. */
  private async runShare(m: Member, share: Item[], record: boolean, n: number): Promise<[TrialOutcome[], Record<string, Tensor>]> {
    const t = performance.now();
    const out = await this.trainer.batch!.accumulate(m.client, this.spec, share, record, (i) => this.o.onItem?.(m.index, n, i));
    const acc = await this.trainer.batch!.read(m.client, this.spec);
    if (m.rebooted) throw new Error(`${m.name} restarted during update ${n}`);
    m.trials += share.length;
    m.busyMs += performance.now() - t;
    return [out, acc];
  }

  /** Drops a failed board (errors that every board would give are thrown); `s` >= 0: its share goes to `pending`. */
  private failed(m: Member, err: unknown, pending: number[], s: number): void {
    if (!isBoardFailure(err)) throw err;
    if (err instanceof DeviceError) m.rebooted = true; // NOT_CONFIGURED: the board is up and lost its model
    process.stderr.write(`edgeprop: board ${m.name} failed (${err instanceof Error ? err.message : String(err)}); ${s >= 0 ? "its share is re-run on another board" : "it is out of step"}\n`);
    m.drop();
    if (s >= 0) pending.push(s);
  }

  /**
   * Boards that failed come back with a live board's state (its blob): started again when
   * edgeprop started them, reconnected when they only restarted; others stay out of the run.
   */
  private async replaceFailed(): Promise<void> {
    const down = this.members.filter((m) => !m.live && !m.gone);
    if (down.length === 0) return;
    const donor = this.members.find((m) => m.live)!;
    const state = await this.trainer.state(donor.client, this.spec, this.done);
    for (const m of down) {
      const restarted = m.rebooted;
      m.drop();
      if (!m.spec.relaunch && !restarted) {
        m.gone = true;
        process.stderr.write(`edgeprop: board ${m.name} stays out of the run (edgeprop did not start it, so it cannot start it again)\n`);
        continue;
      }
      try {
        if (m.spec.relaunch) m.spec.port = await m.spec.relaunch();
        await this.connect(m, state);
        m.restarts++;
        this.replacements++;
        process.stderr.write(`edgeprop: board ${m.name} restarted and loaded with the state after update ${this.done}\n`);
      } catch (err) {
        m.drop();
        m.gone = true;
        process.stderr.write(`edgeprop: board ${m.name} could not be restarted (${err instanceof Error ? err.message : String(err)}); the run goes on without it\n`);
      }
    }
  }

  async state(): Promise<S> {
    const m = this.members.find((x) => x.live);
    if (!m) throw new Error("every board of the run failed");
    return structuredClone(await this.trainer.state(m.client, this.spec, this.done));
  }

  /** Per-board throughput: trials per second of its own busy time, and its share of the run's trials. */
  status(): string {
    const total = this.members.reduce((s, m) => s + m.trials, 0) || 1;
    return this.members
      .map((m) => `${m.name}${m.live ? "" : " (down)"} ${((m.trials * 1000) / Math.max(1, m.busyMs)).toFixed(1)} trials/s ${Math.round((100 * m.trials) / total)}%`)
      .join(", ");
  }

  /** The link statistics of every board's connections, summed. */
  link(): LinkStats {
    const all = this.members.flatMap((m) => [...m.pastLinks, ...(m.link ? [m.link.stats()] : [])]);
    const sum = (k: keyof LinkStats) => all.reduce((s, l) => s + l[k], 0);
    return {
      framesSent: sum("framesSent"), retransmits: sum("retransmits"), crcFailures: sum("crcFailures"), injectedFaults: sum("injectedFaults"),
      boardResets: sum("boardResets"), wireBytesOut: sum("wireBytesOut"), wireBytesIn: sum("wireBytesIn"),
    };
  }

  async close(): Promise<void> {
    for (const m of this.members) m.drop();
    await Promise.all(this.members.map((m) => m.spec.release?.().catch(() => {})));
  }
}
