// Error codes (PROTOCOL.md, protocol/messages.ts ErrorCode) and the pending error of the
// request being handled. Texts are string literals (no allocation with --runtime stub);
// '%' in the text is replaced by errArg0, then errArg1 (unsigned decimal) when sent.
export const E_BAD_FRAME: i32 = 1;
export const E_TOO_LARGE: i32 = 2;
export const E_BAD_VERSION: i32 = 3;
export const E_UNKNOWN_TYPE: i32 = 4;
export const E_MALFORMED: i32 = 5;
export const E_BAD_FIELD: i32 = 6;
export const E_BAD_SHAPE: i32 = 7;
export const E_BAD_VALUE: i32 = 8;
export const E_NO_MEMORY: i32 = 9;
export const E_NOT_CONFIGURED: i32 = 10;
export const E_BUSY: i32 = 11;
export const E_UNSUPPORTED: i32 = 12;
export const E_STORAGE: i32 = 13;
export const E_INTERNAL: i32 = 14;

export let errCode: i32 = 0;
export let errField: string = "";
export let errText: string = "";
export let errArg0: u32 = 0;
export let errArg1: u32 = 0;

/** Records an error and returns its code (so handlers can `return fail(...)`). */
export function fail(code: i32, field: string, text: string, a0: u32 = 0, a1: u32 = 0): i32 {
  errCode = code;
  errField = field;
  errText = text;
  errArg0 = a0;
  errArg1 = a1;
  return code;
}

export function clearError(): void {
  errCode = 0;
  errField = "";
  errText = "";
}
