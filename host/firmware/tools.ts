// Locating the external tools the firmware pipeline drives; a missing one is a MissingToolError
// naming its Debian package (scripts/toolchains.txt lists them for `npm test`).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { MissingToolError } from "../input/errors.ts";

export const TOOL_PACKAGES = {
  wasm2c: "wabt",
  "arm-none-eabi-gcc": "gcc-arm-none-eabi",
  "arm-none-eabi-size": "binutils-arm-none-eabi",
  "arm-none-eabi-objcopy": "binutils-arm-none-eabi",
  "arm-none-eabi-nm": "binutils-arm-none-eabi",
  "arm-none-eabi-readelf": "binutils-arm-none-eabi",
  "qemu-system-arm": "qemu-system-arm",
  gcc: "gcc",
} as const;
export type Tool = keyof typeof TOOL_PACKAGES;

/** wasm2c's runtime sources, shipped by Debian's wabt next to the tool. */
export const WASM2C_RUNTIME_DIR = "/usr/share/wabt/wasm2c";
export const WASM2C_HEADER = "/usr/include/wasm-rt.h";
export const NEWLIB_NANO = "/usr/lib/arm-none-eabi/newlib/libc_nano.a";

const found = new Map<string, string>();

/** Absolute path of `tool`, or MissingToolError. */
export function requireTool(tool: Tool): string {
  const hit = found.get(tool);
  if (hit) return hit;
  let path = "";
  try {
    path = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
  } catch {
    path = "";
  }
  if (!path) throw new MissingToolError(tool, TOOL_PACKAGES[tool]);
  found.set(tool, path);
  return path;
}

export function requireFile(path: string, debianPackage: string): string {
  if (!existsSync(path)) throw new MissingToolError(path, debianPackage);
  return path;
}
