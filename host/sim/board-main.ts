// The sim board process: hosts the firmware .wasm with the HAL of device/HAL.md, its UART on
// one end of a pty pair (`--port`), persistent storage in a file (`--storage`). Optional byte
// faults on its UART (`--fault-rate`, `--fault-seed`). Started by startSim() (host/sim/sim.ts);
// prints "READY <port>" on stdout once the firmware is initialised.
//   node --import tsx host/sim/board-main.ts --port PATH [--storage FILE] [--wasm FILE]
//        [--board-id sim] [--fault-rate R] [--fault-seed S]
import { readFileSync } from "node:fs";
import { FirmwareHost } from "./firmware-host.ts";
import { SerialTransport } from "../transport/serial.ts";
import { FaultyTransport } from "../transport/fault.ts";
import type { Transport } from "../transport/transport.ts";
import { buildFirmware } from "../../device/firmware/build.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = arg("port");
if (!port) {
  process.stderr.write("board-main: --port is required\n");
  process.exit(2);
}
const wasmFile = arg("wasm");
const wasm = wasmFile ? readFileSync(wasmFile) : (await buildFirmware()).bytes;
const fw = await FirmwareHost.create(wasm, {
  storagePath: arg("storage"),
  storageSize: Number(arg("storage-size") ?? 65536),
  boardId: arg("board-id") ?? "sim",
});
let link: Transport = await SerialTransport.open(port);
const rate = Number(arg("fault-rate") ?? 0);
if (rate > 0) link = new FaultyTransport(link, { rate, seed: Number(arg("fault-seed") ?? 1) });

fw.onTx = (bytes) => link.write(bytes);
let scheduled = false;
const pump = () => {
  scheduled = false;
  fw.pump();
};
link.onData((chunk) => {
  fw.feed(chunk);
  if (!scheduled) {
    scheduled = true;
    setImmediate(pump);
  }
});
link.onError((e) => {
  process.stderr.write(`board-main: UART lost: ${e.message}\n`);
  process.exit(1);
});
// the board's main loop: poll() forever; while the firmware is busy (a long RUN) keep going
setInterval(() => fw.pump(1000), 1);
fw.init();
process.stdout.write(`READY ${port}\n`);
const stop = async () => {
  await link.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
