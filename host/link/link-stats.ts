// What happened on the link to a board during a run: frames the host sent (retransmissions
// included), retransmissions, frames damaged on the wire in either direction, and the byte
// faults `--fault-rate` injected, for one connection (a resumed run counts from its resume).
// Training records it in summary.json and prints it.
import type { SessionStats } from "../session/session.ts";
import type { FaultStats } from "../transport/fault.ts";

export interface LinkStats {
  /** Request frames the host put on the wire (first attempts and retransmissions). */
  framesSent: number;
  retransmits: number;
  /** Frames that arrived damaged: board→host (the host's CRC/COBS check) plus host→board (the board's BAD_FRAME answers). */
  crcFailures: number;
  /** Bytes the fault injector dropped, flipped or duplicated (0 without --fault-rate). */
  injectedFaults: number;
  /** Board restarts seen (its boot LOG) and recovered from. */
  boardResets: number;
  wireBytesOut: number;
  wireBytesIn: number;
}

const faults = (f: FaultStats | undefined): number => (f ? f.dropped + f.flipped + f.duplicated : 0);

export function linkStats(s: SessionStats, injected: readonly (FaultStats | undefined)[], boardResets: number): LinkStats {
  return {
    framesSent: s.framesSent,
    retransmits: s.retransmits,
    crcFailures: s.badFrames + s.boardBadFrames,
    injectedFaults: injected.reduce((a, f) => a + faults(f), 0),
    boardResets,
    wireBytesOut: s.wireOut,
    wireBytesIn: s.wireIn,
  };
}

export function formatLinkStats(l: LinkStats): string {
  return `link: ${l.framesSent} frames sent, ${l.retransmits} retransmitted, ${l.crcFailures} CRC failures, ${l.injectedFaults} injected byte faults` +
    (l.boardResets ? `, ${l.boardResets} board resets recovered` : "");
}
