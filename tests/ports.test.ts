// `edgeprop ports`: serial ports matched by USB vendor:product id against boards/*.json. No USB
// board exists on a CI machine, so the sysfs tree is a mock (a fake /sys/class/tty in a temp
// folder); serialport's own list is exercised by `edgeprop ports --json` in cli-anywhere.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBoards } from "../boards/index.ts";
import { matchPorts, sysfsPorts } from "../host/transport/port-list.ts";

/** A fake sysfs: one USB CDC port (a Pico's vid:pid), one UART without hardware, one platform stand-in. */
function mockSysfs(): string {
  const root = mkdtempSync(join(tmpdir(), "edgeprop-sysfs-"));
  const usbDev = join(root, "devices", "pci0000:00", "usb1", "1-1");
  const iface = join(usbDev, "1-1:1.0");
  mkdirSync(iface, { recursive: true });
  mkdirSync(join(root, "bus", "usb"), { recursive: true });
  mkdirSync(join(root, "bus", "platform"), { recursive: true });
  writeFileSync(join(usbDev, "idVendor"), "2e8a\n");
  writeFileSync(join(usbDev, "idProduct"), "000a\n");
  writeFileSync(join(usbDev, "manufacturer"), "Raspberry Pi\n");
  writeFileSync(join(usbDev, "serial"), "E66138935F2A7A2A\n");
  symlinkSync(join(root, "bus", "usb"), join(iface, "subsystem"));
  const platformDev = join(root, "devices", "platform", "serial8250");
  mkdirSync(platformDev, { recursive: true });
  symlinkSync(join(root, "bus", "platform"), join(platformDev, "subsystem"));
  const pnp = join(root, "devices", "pnp0", "00:01");
  mkdirSync(pnp, { recursive: true });
  symlinkSync(join(root, "bus", "usb"), join(pnp, "subsystem"));
  const tty = join(root, "class", "tty");
  for (const [name, dev, type] of [["ttyACM0", iface, undefined], ["ttyS3", platformDev, "4"], ["ttyS1", pnp, "0"], ["tty1", undefined, undefined]] as const) {
    mkdirSync(join(tty, name), { recursive: true });
    if (dev) symlinkSync(dev, join(tty, name, "device"));
    if (type) writeFileSync(join(tty, name, "type"), type + "\n");
  }
  return tty;
}

describe("edgeprop ports (mock sysfs: no USB board on this machine)", () => {
  it("finds the USB port with its ids, skips consoles, platform stand-ins and UARTs without hardware", () => {
    expect(sysfsPorts(mockSysfs())).toEqual([
      { path: "/dev/ttyACM0", vendorId: "2e8a", productId: "000a", manufacturer: "Raspberry Pi", serialNumber: "E66138935F2A7A2A" },
    ]);
  });

  it("names the board whose usb id matches, and its role", () => {
    const boards = loadBoards();
    const pico = boards.find((b) => b.id === "rp2040-pico")!;
    const [vid, pid] = pico.usb!.serial!.split(":");
    const rows = matchPorts([{ path: "/dev/ttyACM0", vendorId: vid!.toUpperCase(), productId: pid }, { path: "/dev/ttyUSB0", vendorId: "0403", productId: "6001" }, { path: "/dev/ttyS0" }], boards);
    expect(rows[0]).toMatchObject({ path: "/dev/ttyACM0", usb: pico.usb!.serial, boards: [{ id: "rp2040-pico", role: "serial" }] });
    expect(rows[1]).toMatchObject({ usb: "0403:6001", boards: [] });
    expect(rows[2]).toMatchObject({ usb: null, boards: [] });
  });
});
