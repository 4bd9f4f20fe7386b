// A fresh per-user state folder (an XDG_CACHE_HOME) for a test that must tell its boards' files
// and processes apart, seeded with the firmware build so the CLI under test does not recompile it.
import { cpSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFirmware } from "../../device/firmware/build.ts";
import { stateDir } from "../../host/paths/state-dir.ts";

export async function freshState(prefix: string): Promise<string> {
  await buildFirmware();
  const cache = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(cache, "edgeprop", "build"), { recursive: true });
  cpSync(join(stateDir(), "build", "firmware"), join(cache, "edgeprop", "build", "firmware"), { recursive: true, filter: (p) => !p.endsWith(".lock") });
  return cache;
}
