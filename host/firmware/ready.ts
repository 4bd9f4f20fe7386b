// Readiness checks for a freshly booted board (see ReadyCheck in qemu.ts):
//   greeting  the module writes a HELLO line by itself (the echo fixture)
//   hello     the edgeprop firmware is silent until asked: send the protocol's HELLO request
//             (host/session) and report the board id, runtime and RAM it answers with.
import { SerialTransport } from "../transport/serial.ts";
import { DeviceClient } from "../session/client.ts";
import { Session } from "../session/session.ts";
import { DEFAULT_READY, type ReadyCheck, type SerialLink } from "./qemu.ts";

export type ReadyKind = "greeting" | "hello";

export const protocolHello: ReadyCheck = async (link: SerialLink, timeoutMs: number): Promise<string> => {
  // The firmware has said nothing yet, so handing the port over loses nothing.
  const path = link.port.path;
  await link.close();
  const transport = await SerialTransport.open(path);
  try {
    const session = new Session(transport, { timeoutMs: 500, maxWaitMs: timeoutMs });
    const h = await new DeviceClient(session).hello();
    return `HELLO board=${h.board} fw=${h.fw} rt=${h.rt} ram=${h.ram} mf=${h.mf}`;
  } finally {
    await transport.close();
  }
};

export function readyCheck(kind: ReadyKind): ReadyCheck {
  return kind === "hello" ? protocolHello : DEFAULT_READY;
}
