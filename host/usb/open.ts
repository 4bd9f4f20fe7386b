// Opens a real USB device through the `usb` package (libusb). Nothing is attached in CI, so
// this is the one piece tests cannot exercise; everything above it runs on UsbLink.
import { InputError } from "../input/errors.ts";
import type { UsbLink } from "./link.ts";

export function parseVidPid(text: string, field: string): { vendorId: number; productId: number } {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(text);
  if (!m) throw new InputError(field, `expected VID:PID as four hex digits each (e.g. 0483:df11), got '${text}'`);
  return { vendorId: parseInt(m[1]!, 16), productId: parseInt(m[2]!, 16) };
}

export async function openUsb(vidPid: string, interfaceNumber: number): Promise<UsbLink> {
  const { vendorId, productId } = parseVidPid(vidPid, "usb");
  const { webusb } = await import("usb");
  const devices = await webusb.getDevices();
  const device = devices.find((d) => d.vendorId === vendorId && d.productId === productId);
  if (!device) {
    throw new InputError("usb", `no USB device ${vidPid} found: is the board plugged in and in the right mode (e.g. BOOT0 high for DFU), and may this user access it (udev rules)?`);
  }
  await device.open();
  if (device.configuration === null) await device.selectConfiguration(1);
  await device.claimInterface(interfaceNumber);
  return {
    controlTransferOut: (setup, data) => device.controlTransferOut(setup, data as Uint8Array<ArrayBuffer> | undefined).then((r) => ({ status: r.status, bytesWritten: r.bytesWritten })),
    controlTransferIn: (setup, length) => device.controlTransferIn(setup, length).then((r) => ({ status: r.status, data: r.data })),
    transferOut: (ep, data) => device.transferOut(ep, data as Uint8Array<ArrayBuffer>).then((r) => ({ status: r.status, bytesWritten: r.bytesWritten })),
    transferIn: (ep, length) => device.transferIn(ep, length).then((r) => ({ status: r.status, data: r.data })),
    close: () => device.close(),
  };
}
