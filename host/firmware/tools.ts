// Locating the external tools the firmware pipeline drives; a missing one is a MissingToolError
// naming its Debian package from the one table, scripts/toolchains.txt (host/toolchains.ts).
// The lookup walks PATH in this process — no shell ever sees a tool name, which may come from a
// board file — and accepts only the tools below.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { InputError } from "../input/errors.ts";
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

/** Every Tool, for checking names that come from input at run time. */
const TOOLS = ["wasm2c", "arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-objcopy", "arm-none-eabi-nm", "arm-none-eabi-readelf", "qemu-system-arm", "gcc"] as const satisfies readonly Tool[];

/** wasm2c's runtime sources, shipped by Debian's wabt next to the tool. */
export const WASM2C_RUNTIME_DIR = "/usr/share/wabt/wasm2c";
export const WASM2C_HEADER = "/usr/include/wasm-rt.h";
export const NEWLIB_NANO = "/usr/lib/arm-none-eabi/newlib/libc_nano.a";

const found = new Map<string, string>();

function isTool(name: string): name is Tool {
  return (TOOLS as readonly string[]).includes(name);
}

/** The first executable file called `name` in PATH (absolute directories only), or undefined. */
function whichSync(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Absolute path of `tool`, or MissingToolError. `field` names where an untrusted name came from
 * (a board file's toolchain.cc): a name that is not one of ours is an InputError naming it.
 */
export function requireTool(tool: string, field = "tool"): string {
  if (!isTool(tool)) throw new InputError(field, `expected one of ${TOOLS.join(", ")}, got '${tool.slice(0, 40)}'`);
  const hit = found.get(tool);
  if (hit) return hit;
  const path = whichSync(tool);
  if (!path) throw missingTool(tool);
  found.set(tool, path);
  return path;
}

/** `path` if it exists, else the MissingToolError for the package scripts/toolchains.txt names. */
export function requireFile(path: string): string {
  if (!existsSync(path)) throw missingTool(path);
  return path;
}
