// Error codes (PROTOCOL.md, protocol/messages.ts ErrorCode) and the pending error of the
// request being handled. Texts are string literals (no allocation with --runtime stub);
// '%' in the text is replaced by errArg0, then errArg1 (unsigned decimal) when sent, and '$' by
// the name given to failName (bytes copied from the request, e.g. a rule the firmware lacks).
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
/** The name '$' stands for (at most 32 bytes). */
export const ERR_NAME: usize = memory.data(32, 8);
export let errNameLen: u32 = 0;

/** Records an error and returns its code (so handlers can `return fail(...)`). */
export function fail(code: i32, field: string, text: string, a0: u32 = 0, a1: u32 = 0): i32 {
  errCode = code;
  errField = field;
  errText = text;
  errArg0 = a0;
  errArg1 = a1;
  errNameLen = 0;
  return code;
}

/** fail(...) whose text names `len` bytes at `ptr` where it says '$' (copied: the request may go). */
export function failName(code: i32, field: string, text: string, ptr: usize, len: u32): i32 {
  const n = len < 32 ? len : 32;
  memory.copy(ERR_NAME, ptr, n);
  fail(code, field, text);
  errNameLen = n;
  return code;
}

/** failName with an ASCII string literal as the name. */
export function failNameStr(code: i32, field: string, text: string, name: string): i32 {
  const n = name.length < 32 ? name.length : 32;
  for (let i = 0; i < n; i++) store<u8>(ERR_NAME + <usize>i, <u8>name.charCodeAt(i));
  fail(code, field, text);
  errNameLen = <u32>n;
  return code;
}

export function clearError(): void {
  errCode = 0;
  errNameLen = 0;
  errField = "";
  errText = "";
}
