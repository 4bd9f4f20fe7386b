// The part of a USB device edgeprop uses: control transfers (DFU) and bulk transfers (the USB
// bulk transport). It is the WebUSB shape, so a device from the `usb` package satisfies it as
// is, and a simulated device (tests) can stand in for hardware that is not attached here.

export interface ControlSetup {
  requestType: "standard" | "class" | "vendor";
  recipient: "device" | "interface" | "endpoint" | "other";
  request: number;
  value: number;
  index: number;
}

export type TransferStatus = "ok" | "stall" | "babble";

export interface UsbLink {
  controlTransferOut(setup: ControlSetup, data?: Uint8Array): Promise<{ status: TransferStatus; bytesWritten: number }>;
  controlTransferIn(setup: ControlSetup, length: number): Promise<{ status: TransferStatus; data?: DataView }>;
  transferOut(endpointNumber: number, data: Uint8Array): Promise<{ status: TransferStatus; bytesWritten: number }>;
  transferIn(endpointNumber: number, length: number): Promise<{ status: TransferStatus; data?: DataView }>;
  close(): Promise<void>;
}
