// The firmware entry: exports init() and poll() (device/HAL.md), BOARD_ID and NUMERICS (a board
// may write its id and its numerics, 1 = fixed16, there before init) and busy() (optional: 1
// while a request is spread over several polls, so a host-side board loop such as the sim's can
// keep polling without sleeping).
import { dispatcherInit, dispatcherPoll, dispatcherBusy } from "./dispatcher";
export { BOARD_ID } from "./dispatcher";
export { NUMERICS } from "../kernels/numerics";

export function init(): void {
  dispatcherInit();
}

export function poll(): void {
  dispatcherPoll();
}

export function busy(): i32 {
  return dispatcherBusy() ? 1 : 0;
}
