// The serial ports of this machine (serialport's list) matched against the boards' USB ids
// (boards/*.json `usb`): what `edgeprop ports` prints and how flashing finds a rebooted board.
// serialport lists Linux ports through `udevadm`; where that is missing (a container without
// udev) the same facts are read from sysfs, as pyserial's list_ports does.
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SerialPort } from "serialport";
import type { Board } from "../../boards/index.ts";

/** What serialport's list() gives per port (the fields used here). */
export interface ListedPort {
  path: string;
  vendorId?: string | undefined;
  productId?: string | undefined;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
}

export interface PortRow {
  path: string;
  /** "vid:pid" in lower-case hex, when the port is a USB device. */
  usb: string | null;
  manufacturer: string | null;
  serialNumber: string | null;
  /** Boards whose definition names this USB id, and in which role (serial port, ROM bootloader). */
  boards: { id: string; role: "serial" | "bootloader" }[];
}

const hex4 = (s: string) => s.toLowerCase().padStart(4, "0");

export function matchPorts(ports: readonly ListedPort[], boards: readonly Board[]): PortRow[] {
  return ports.map((p) => {
    const usb = p.vendorId && p.productId ? `${hex4(p.vendorId)}:${hex4(p.productId)}` : null;
    const hits: PortRow["boards"] = [];
    for (const b of boards) {
      for (const role of ["serial", "bootloader"] as const) if (usb && b.usb?.[role] === usb) hits.push({ id: b.id, role });
    }
    return { path: p.path, usb, manufacturer: p.manufacturer ?? null, serialNumber: p.serialNumber ?? null, boards: hits };
  });
}

const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return undefined;
  }
};

/** Serial ports from /sys/class/tty: devices with hardware behind them, USB ids where there are. */
export function sysfsPorts(root = "/sys/class/tty"): ListedPort[] {
  if (!existsSync(root)) return [];
  const out: ListedPort[] = [];
  for (const name of readdirSync(root).sort()) {
    const dev = join(root, name, "device");
    if (!existsSync(dev)) continue; // virtual consoles, ptys
    // platform serial8250 stand-ins and ttyS ports without a UART are not ports (pyserial's rule)
    if (basename(realpathSync(join(dev, "subsystem"))) === "platform") continue;
    if (name.startsWith("ttyS") && read(join(root, name, "type")) === "0") continue;
    const port: ListedPort = { path: `/dev/${name}` };
    // the USB device is an ancestor of the tty's device (interface -> device): walk up to it
    for (let d = realpathSync(dev); d !== dirname(d); d = dirname(d)) {
      const vid = read(join(d, "idVendor"));
      if (vid === undefined) continue;
      port.vendorId = vid;
      port.productId = read(join(d, "idProduct"));
      port.manufacturer = read(join(d, "manufacturer"));
      port.serialNumber = read(join(d, "serial"));
      break;
    }
    out.push(port);
  }
  return out;
}

/** serialport's list, or the sysfs scan when serialport cannot list (no udevadm). */
export async function listPorts(): Promise<ListedPort[]> {
  try {
    return await SerialPort.list();
  } catch (err) {
    if (process.platform === "linux") return sysfsPorts();
    throw err;
  }
}
