// The USB bulk transport carries the unchanged protocol: a Session over it talks to the real
// firmware .wasm behind a SIMULATED vendor-class USB device (no USB hardware exists here).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MsgType } from "../protocol/messages.ts";
import { Session } from "../host/session/session.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { firmwareWasm } from "../host/sim/inprocess.ts";
import { UsbBulkTransport } from "../host/transport/usb-bulk.ts";
import { SimulatedUsbBulkBoard } from "./sim/usb-bulk-device.ts";

describe("USB bulk transport to a simulated vendor-class board (simulation: no USB hardware here)", () => {
  let board: SimulatedUsbBulkBoard;
  let session: Session;

  beforeAll(async () => {
    const fw = await FirmwareHost.create(await firmwareWasm(), { boardId: "usb-bulk-sim" });
    fw.init();
    board = new SimulatedUsbBulkBoard(fw);
    session = new Session(new UsbBulkTransport(board, "usb 1209:0001", { endpointOut: 1, endpointIn: 1, readSize: 512 }));
  });

  afterAll(async () => {
    await session.close();
  });

  it("says HELLO and negotiates the frame size", async () => {
    const info = await session.connect();
    expect(info.board).toBe("usb-bulk-sim");
    expect(session.maxFrame).toBeGreaterThan(64);
  });

  it("carries frames larger than one bulk packet intact", async () => {
    const d = Uint8Array.from({ length: 700 }, (_, i) => (i * 37) & 0xff);
    const r = await session.request(MsgType.PING, { d });
    expect(Array.from(r.d as Uint8Array)).toEqual(Array.from(d));
    expect(session.stats.retransmits).toBe(0);
  });
});
