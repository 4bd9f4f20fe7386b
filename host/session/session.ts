// Session layer of PROTOCOL.md: stop-and-wait request/response over any Transport, with
// sequence numbers, bounded retransmission on timeout, ACK (device busy: keep waiting),
// duplicate suppression (stale responses are ignored; the device never executes a
// retransmission twice), negotiated maximum frame size, and device LOG events.
import { FrameSplitter, FLAG_EVENT, FLAG_RESPONSE, BASE_MAX_FRAME, HEADER_BYTES, CRC_BYTES, decodeFrame, encodeFrame } from "../../protocol/frame.ts";
import type { Frame } from "../../protocol/frame.ts";
import {
  DeviceError, ErrorCode, MSG_TYPE_NAME, MsgType, decodeBody, encodeBody, validateDeviceBody,
} from "../../protocol/messages.ts";
import type { Body, HelloInfo } from "../../protocol/messages.ts";
import type { Transport } from "../transport/transport.ts";

export interface SessionOptions {
  /** Wait for an answer before retransmitting (ms, default 250). */
  timeoutMs?: number;
  /** Retransmissions after the first attempt before giving up (default 10). */
  retries?: number;
  /** Cap on one request's total time, ACK extensions included (ms, default 120 000). */
  maxWaitMs?: number;
  /**
   * Give up on a request after this long without any answer from the board — no response, ACK
   * or BUSY (ms, default: no limit beyond `retries` and `maxWaitMs`). What `--timeout` sets.
   */
  silenceMs?: number;
  /** Largest frame this host accepts and sends (HELLO `mf`; default 65535). */
  maxFrame?: number;
  /** First sequence number (default random). */
  seq?: number;
  /** Device LOG events. */
  onLog?: (level: number, text: string) => void;
  /**
   * The board (re)started (its boot LOG): its RAM, model and negotiated frame size are gone.
   * The session falls back to BASE_MAX_FRAME; call connect() (and restore the model) again.
   */
  onBoot?: () => void;
}

export interface SessionStats {
  requests: number;
  /** Request frames put on the wire (first attempts and retransmissions). */
  framesSent: number;
  retransmits: number;
  timeouts: number;
  /** Incoming blocks that failed COBS or CRC (corrupted on the wire to the host). */
  badFrames: number;
  /** Requests the board received damaged and answered with BAD_FRAME (corrupted on the wire to the board). */
  boardBadFrames: number;
  /** Valid responses to an earlier attempt or another seq (duplicates, ignored). */
  stale: number;
  acks: number;
  deviceErrors: number;
  /** Wire bytes sent / received (delimiters included, retransmissions included). */
  wireOut: number;
  wireIn: number;
}

/** Ceiling of the per-attempt timeout, which doubles after each unanswered attempt. */
const MAX_BACKOFF_MS = 4000;

export class TimeoutError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "TimeoutError";
  }
}

export interface RequestOptions {
  /** Per-attempt timeout for this request (e.g. a long RUN on a slow board). */
  timeoutMs?: number;
}

interface Outstanding {
  seq: number;
  type: number;
  timeoutMs: number;
  wire: Uint8Array;
  attempts: number;
  started: number;
  /** Last time the board answered this request in any way (ACK, BUSY, a damaged answer). */
  heard: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (b: Body) => void;
  reject: (e: Error) => void;
}

export class Session {
  readonly stats: SessionStats = {
    requests: 0, framesSent: 0, retransmits: 0, timeouts: 0, badFrames: 0, boardBadFrames: 0, stale: 0, acks: 0, deviceErrors: 0, wireOut: 0, wireIn: 0,
  };
  /** Negotiated maximum (unencoded) frame size; BASE_MAX_FRAME until HELLO. */
  maxFrame = BASE_MAX_FRAME;
  info: HelloInfo | null = null;
  private seq: number;
  private out: Outstanding | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private splitter: FrameSplitter;
  private transport!: Transport;
  private broken: Error | null = null;
  private lastEventSeq = -1;
  /** Boot greetings seen (board restarts while this session was open). */
  boots = 0;
  private readonly opts: Required<Omit<SessionOptions, "onLog" | "onBoot" | "seq">> & Pick<SessionOptions, "onLog" | "onBoot">;
  /** Board resets do not end a session: who to tell (settable after construction). */
  onBoot: (() => void) | undefined;

  constructor(transport: Transport, opts: SessionOptions = {}) {
    this.opts = {
      timeoutMs: opts.timeoutMs ?? 250,
      retries: opts.retries ?? 10,
      maxWaitMs: opts.maxWaitMs ?? 120_000,
      silenceMs: opts.silenceMs ?? Infinity,
      maxFrame: opts.maxFrame ?? 65535,
      onLog: opts.onLog,
      onBoot: opts.onBoot,
    };
    this.seq = (opts.seq ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.splitter = new FrameSplitter((b) => this.onBlock(b), 2 * this.opts.maxFrame + 16, () => this.stats.badFrames++);
    this.attach(transport);
  }

  private attach(t: Transport): void {
    this.transport = t;
    this.broken = null;
    this.splitter.reset();
    t.onData((chunk) => {
      this.stats.wireIn += chunk.length;
      this.splitter.push(chunk);
    });
    t.onError((e) => {
      this.broken = e;
      const o = this.out;
      if (o) this.settle(o, undefined, new Error(`link to the board lost: ${e.message}`));
    });
  }

  /** Largest body a request may carry under the negotiated frame size. */
  get maxBody(): number {
    return this.maxFrame - HEADER_BYTES - CRC_BYTES;
  }

  /** HELLO: learns the device and negotiates the frame size. */
  async connect(): Promise<HelloInfo> {
    const b = await this.request(MsgType.HELLO, { mf: this.opts.maxFrame });
    const info = b as unknown as HelloInfo;
    this.info = info;
    this.maxFrame = Math.min(info.mf, this.opts.maxFrame);
    return info;
  }

  /** Swaps in a new transport (board restarted, port re-opened) and says HELLO again. */
  async reconnect(t: Transport): Promise<HelloInfo> {
    const old = this.transport;
    if (old !== t) await old.close().catch(() => {});
    this.attach(t);
    return this.connect();
  }

  /** One request, answered by its response body; device errors throw DeviceError. */
  request(type: number, body: Body = {}, opts: RequestOptions = {}): Promise<Body> {
    const run = () => this.send(type, body, opts.timeoutMs ?? this.opts.timeoutMs);
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  private send(type: number, body: Body, timeoutMs: number): Promise<Body> {
    if (this.broken) return Promise.reject(new Error(`link to the board lost: ${this.broken.message}`));
    const bytes = encodeBody(body);
    const frameLen = HEADER_BYTES + bytes.length + CRC_BYTES;
    const limit = type === MsgType.HELLO ? BASE_MAX_FRAME : this.maxFrame;
    if (frameLen > limit) {
      return Promise.reject(
        new Error(`${MSG_TYPE_NAME[type] ?? type} request of ${frameLen} bytes exceeds the max frame of ${limit} bytes`),
      );
    }
    this.seq = (this.seq + 1) & 0xffff;
    const wire = encodeFrame({ type, flags: 0, seq: this.seq, body: bytes });
    this.stats.requests++;
    return new Promise<Body>((resolve, reject) => {
      const now = Date.now();
      const o: Outstanding = { seq: this.seq, type, timeoutMs, wire, attempts: 0, started: now, heard: now, timer: undefined, resolve, reject };
      this.out = o;
      this.transmit(o);
    });
  }

  private transmit(o: Outstanding): void {
    o.attempts++;
    this.stats.framesSent++;
    this.stats.wireOut += o.wire.length;
    this.transport.write(o.wire);
    this.arm(o);
  }

  private arm(o: Outstanding): void {
    if (o.timer) clearTimeout(o.timer);
    // never sleep past the silence limit: a silent board is reported when the limit is reached
    const left = o.heard + this.opts.silenceMs - Date.now() + 1;
    o.timer = setTimeout(() => this.onTimeout(o), Math.max(1, Math.min(o.timeoutMs, left)));
  }

  private onTimeout(o: Outstanding): void {
    if (this.out !== o) return;
    this.stats.timeouts++;
    // Back off: a board slower than the timeout (an emulated MCU, a loaded host) would otherwise
    // be buried under retransmissions of frames it is still reading, and never catch up.
    o.timeoutMs = Math.min(2 * o.timeoutMs, MAX_BACKOFF_MS);
    this.retry(o, "no answer");
  }

  private retry(o: Outstanding, why: string): void {
    if (this.out !== o) return;
    const now = Date.now();
    const silent = now - o.heard > this.opts.silenceMs;
    if (o.attempts > this.opts.retries || now - o.started > this.opts.maxWaitMs || silent) {
      const name = MSG_TYPE_NAME[o.type] ?? o.type;
      const limit = silent ? ` (no sign of the board for ${((now - o.heard) / 1000).toFixed(1)} s; the limit is ${this.opts.silenceMs / 1000} s)` : "";
      this.settle(o, undefined, new TimeoutError(
        `${why} to ${name} (seq ${o.seq}) after ${o.attempts} attempts (the last waited ${o.timeoutMs} ms) on ${this.transport.name}${limit}`,
      ));
      return;
    }
    this.stats.retransmits++;
    this.transmit(o);
  }

  private settle(o: Outstanding, body: Body | undefined, err?: Error): void {
    if (o.timer) clearTimeout(o.timer);
    if (this.out === o) this.out = null;
    if (err) o.reject(err);
    else o.resolve(body!);
  }

  private onBlock(block: Uint8Array): void {
    const f = decodeFrame(block);
    if (typeof f === "string") {
      this.stats.badFrames++;
      // a response was probably damaged: ask again now rather than after the timeout
      const o = this.out;
      if (o) {
        o.heard = Date.now();
        this.retry(o, "only damaged answers");
      }
      return;
    }
    this.onFrame(f);
  }

  private onFrame(f: Frame): void {
    let body: Body;
    try {
      body = decodeBody(f.body);
    } catch {
      this.stats.badFrames++;
      return;
    }
    if (f.flags & FLAG_EVENT) {
      if (f.type === MsgType.LOG && f.seq !== this.lastEventSeq && !validateDeviceBody(f.type, body)) {
        this.lastEventSeq = f.seq;
        if (body.boot === true) {
          this.boots++;
          this.maxFrame = BASE_MAX_FRAME;
          this.info = null;
          this.opts.onBoot?.();
          this.onBoot?.();
        }
        this.opts.onLog?.(body.l as number, body.m as string);
      }
      return;
    }
    const o = this.out;
    if (!(f.flags & FLAG_RESPONSE) || !o || f.seq !== o.seq) {
      this.stats.stale++;
      return;
    }
    o.heard = Date.now();
    if (f.type === MsgType.ACK) {
      this.stats.acks++;
      o.attempts = 0; // the device is alive and working on it
      this.arm(o);
      return;
    }
    const why = validateDeviceBody(f.type, body);
    if (f.type === MsgType.ERROR) {
      if (why) return this.settle(o, undefined, new Error(`malformed ERROR from the device: ${why}`));
      const code = body.c as number;
      if (code === ErrorCode.BAD_FRAME) {
        this.stats.boardBadFrames++;
        return this.retry(o, "only CRC errors"); // our request was damaged
      }
      if (code === ErrorCode.BUSY) return this.arm(o);
      this.stats.deviceErrors++;
      return this.settle(o, undefined, DeviceError.fromBody(body));
    }
    if (f.type !== o.type) {
      this.stats.stale++;
      return;
    }
    if (why) return this.settle(o, undefined, new Error(`malformed ${MSG_TYPE_NAME[f.type]} response: ${why}`));
    this.settle(o, body);
  }

  async close(): Promise<void> {
    const o = this.out;
    if (o) this.settle(o, undefined, new Error("session closed"));
    await this.transport.close();
  }
}
