// Builds (on demand) and starts the firmware in this process behind an InProcessTransport:
// the quickest whole-protocol loop, used by tests and benchmarks.
import { buildFirmware } from "../../device/firmware/build.ts";
import { FirmwareHost } from "./firmware-host.ts";
import type { FirmwareHostOptions } from "./firmware-host.ts";
import { InProcessTransport } from "../transport/inprocess.ts";

export async function firmwareWasm(): Promise<Uint8Array> {
  return (await buildFirmware()).bytes;
}

export async function startInProcessBoard(
  opts: FirmwareHostOptions & { wasm?: Uint8Array } = {},
): Promise<{ fw: FirmwareHost; transport: InProcessTransport }> {
  const wasm = opts.wasm ?? (await firmwareWasm());
  const fw = await FirmwareHost.create(wasm, { boardId: "sim", ...opts });
  const transport = new InProcessTransport(fw);
  fw.init();
  return { fw, transport };
}
