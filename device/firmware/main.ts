// The firmware entry: exports init() and poll() (device/HAL.md). Build: see device/firmware/README.md.
import { dispatcherInit, dispatcherPoll } from "./dispatcher";
export { BOARD_ID } from "./dispatcher";

export function init(): void {
  dispatcherInit();
}

export function poll(): void {
  dispatcherPoll();
}
