// `edgeprop monitor` on the simulated board: the HELLO, then the boot LOG of a board restart.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startSim } from "../host/sim/sim.ts";
import { ROOT } from "./helpers/cli.ts";

describe("edgeprop monitor", () => {
  it("shows the board's HELLO and the LOG it sends when it restarts", async () => {
    const sim = await startSim({ dir: mkdtempSync(join(tmpdir(), "edgeprop-monitor-")) });
    try {
      const child = spawn(process.execPath, [`${ROOT}bin/edgeprop.mjs`, "monitor", "--port", sim.port, "--duration", "6", "--json"], { cwd: ROOT });
      let out = "";
      const hello = new Promise<void>((resolve) =>
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes('"event":"hello"')) resolve();
        }),
      );
      await hello;
      await sim.killBoard();
      await sim.startBoard();
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(code).toBe(0);
      const events = out.trim().split("\n").map((l) => JSON.parse(l));
      expect(events[0]).toMatchObject({ event: "hello", board: "sim" });
      expect(events.some((e) => e.event === "log" && e.level === "info" && /firmware ready/.test(e.text))).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});
