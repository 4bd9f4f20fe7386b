// `edgeprop monitor` on the simulated board, run from a folder outside the repository with a
// relative --port: the HELLO, then the boot LOG of a board restart; Ctrl-C ends it (exit 0).
// Event-driven: the test waits for each line, never for a time window.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startSim } from "../host/sim/sim.ts";
import { startEdgeprop } from "./helpers/cli.ts";

describe("edgeprop monitor", () => {
  it("shows the board's HELLO and the LOG it sends when it restarts, from any folder", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "edgeprop-monitor-"));
    const sim = await startSim({ dir: join(cwd, "board") });
    try {
      const mon = startEdgeprop(cwd, ["monitor", "--port", "board/host", "--json"]);
      await mon.line(/"event":"hello"/, "stdout");
      expect(mon.stderr()).toMatch(/waiting for the board on board\/host \(up to 30 s\)/);
      await sim.killBoard();
      await sim.startBoard();
      await mon.line(/firmware ready/, "stdout");
      mon.child.kill("SIGINT");
      expect(await mon.exited).toBe(0);
      const events = mon.stdout().trim().split("\n").map((l) => JSON.parse(l));
      expect(events[0]).toMatchObject({ event: "hello", board: "sim" });
      expect(events.some((e) => e.event === "log" && e.level === "info" && /firmware ready/.test(e.text))).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});
