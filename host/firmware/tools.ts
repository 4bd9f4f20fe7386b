// Locating the external tools the firmware pipeline drives; a missing one is a MissingToolError
// naming its Debian package from the one table, scripts/toolchains.txt (host/toolchains.ts).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { missingTool } from "../toolchains.ts";

export type Tool =
  | "wasm2c"
  | "arm-none-eabi-gcc"
  | "arm-none-eabi-size"
  | "arm-none-eabi-objcopy"
  | "arm-none-eabi-nm"
  | "arm-none-eabi-readelf"
  | "qemu-system-arm"
  | "gcc";

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
  if (!path) throw missingTool(tool);
  found.set(tool, path);
  return path;
}

/** `path` if it exists, else the MissingToolError for the package scripts/toolchains.txt names. */
export function requireFile(path: string): string {
  if (!existsSync(path)) throw missingTool(path);
  return path;
}
