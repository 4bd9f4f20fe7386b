// Readiness checks for a freshly booted board (see ReadyCheck in qemu.ts):
//   greeting  the module writes a HELLO line by itself (the echo fixture)
//   hello     the edgeprop firmware is silent until asked: send the protocol's HELLO request
//             (connectBoard) and report the board id, runtime and RAM it answers with.
import { connectBoard } from "../link/connect-board.ts";
import { DEFAULT_READY, type ReadyCheck, type SerialLink } from "./qemu.ts";

export type ReadyKind = "greeting" | "hello";

/** The protocol's HELLO through connectBoard; `say` gets its "waiting for the board" line. */
export const helloCheck = (say?: (line: string) => void): ReadyCheck => async (link: SerialLink, timeoutMs: number): Promise<string> => {
  // The firmware has said nothing yet, so handing the port over loses nothing.
  const path = link.port.path;
  await link.close();
  const conn = await connectBoard({ port: path, timeouts: { waitMs: timeoutMs, attemptMs: 500 }, ...(say ? { say } : {}) });
  await conn.release();
  const h = conn.info;
  return `HELLO board=${h.board} fw=${h.fw} rt=${h.rt} ram=${h.ram} mf=${h.mf}`;
};

export const protocolHello: ReadyCheck = helloCheck();

export function readyCheck(kind: ReadyKind, say?: (line: string) => void): ReadyCheck {
  return kind === "hello" ? helloCheck(say) : DEFAULT_READY;
}
