// The one table of external tools and the Debian packages that provide them is
// scripts/toolchains.txt: scripts/ensure-toolchains.sh reads it to install what `npm test`
// needs, and this module reads it so that a MissingToolError names the same package.
import { readFileSync } from "node:fs";
import { MissingToolError } from "./input/errors.ts";
import { repoPath } from "./paths.ts";

export interface ToolchainEntry {
  /** A command on PATH, or an absolute path to a file the package installs. */
  probe: string;
  debianPackage: string;
  usedBy: string;
}

export const TOOLCHAINS_FILE = repoPath("scripts", "toolchains.txt");

let table: Map<string, ToolchainEntry> | undefined;

export function toolchainTable(): ReadonlyMap<string, ToolchainEntry> {
  if (!table) {
    table = new Map();
    for (const line of readFileSync(TOOLCHAINS_FILE, "utf8").split("\n")) {
      const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(line.trim());
      if (!m || m[1]!.startsWith("#")) continue;
      table.set(m[1]!, { probe: m[1]!, debianPackage: m[2]!, usedBy: m[3]! });
    }
  }
  return table;
}

/** The Debian package that provides `probe` (a command or a file path listed in the table). */
export function debianPackage(probe: string): string {
  const e = toolchainTable().get(probe);
  if (!e) throw new Error(`${probe} is not listed in scripts/toolchains.txt (add it with its Debian package)`);
  return e.debianPackage;
}

/** The error for a missing tool or file; `what` is how to name it if not by its probe. */
export function missingTool(probe: string, what = probe): MissingToolError {
  return new MissingToolError(what, debianPackage(probe));
}
