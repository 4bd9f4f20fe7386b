// Locating the external tools the firmware pipeline drives; a missing one is a MissingToolError
// naming its Debian package (scripts/toolchains.txt lists them for `npm test`).
// The lookup walks PATH in this process — no shell ever sees a tool name, which may come from a
// board file — and accepts only the names in TOOL_PACKAGES.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { InputError, MissingToolError } from "../input/errors.ts";

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

function isTool(name: string): name is Tool {
  return Object.hasOwn(TOOL_PACKAGES, name);
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
  if (!isTool(tool)) throw new InputError(field, `expected one of ${Object.keys(TOOL_PACKAGES).join(", ")}, got '${tool.slice(0, 40)}'`);
  const hit = found.get(tool);
  if (hit) return hit;
  const path = whichSync(tool);
  if (!path) throw new MissingToolError(tool, TOOL_PACKAGES[tool]);
  found.set(tool, path);
  return path;
}

export function requireFile(path: string, debianPackage: string): string {
  if (!existsSync(path)) throw new MissingToolError(path, debianPackage);
  return path;
}
