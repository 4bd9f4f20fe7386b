// A fresh per-user state folder (an XDG_CACHE_HOME) for a test that must tell its boards' files
// and processes apart, seeded with the firmware build so the CLI under test does not recompile it.
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { buildFirmware } from "../../device/firmware/build.ts";
import { cacheDir, stateDir } from "../../host/paths.ts";

export async function freshState(prefix: string): Promise<string> {
  await buildFirmware();
  const cache = mkdtempSync(join(tmpdir(), prefix));
  const built = cacheDir("firmware");
  cpSync(built, join(cache, "edgeprop", relative(stateDir(), built)), { recursive: true, filter: (p) => !p.endsWith(".lock") });
  return cache;
}
