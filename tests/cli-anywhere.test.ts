// The CLI as a user runs it: from a folder of their own (not the repository), with relative and
// absolute paths, results on stdout and progress on stderr, saying what it waits for, stopping
// cleanly on Ctrl-C and on a closed pipe, and writing its state to a per-user folder — also when
// the package belongs to another user. Issue 16, defects 1, 2, 5, 7, 11, 12, 13.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomCase } from "../host/case/random.ts";
import { commands } from "../host/cli/commands/index.ts";
import { startSim, type Sim } from "../host/sim/sim.ts";
import { openPtyPair, type PtyPair } from "../host/transport/pty-pair.ts";
import { tasks } from "../host/tasks/index.ts";
import { runIn, startEdgeprop } from "./helpers/cli.ts";
import { freshState } from "./helpers/state.ts";

const cwd = mkdtempSync(join(tmpdir(), "edgeprop-user-"));
// LIF: every backend, the FPGA core included, computes it
writeFileSync(join(cwd, "case.json"), JSON.stringify(randomCase({ neuron: "lif", recurrent: true, seed: 4, T: 40, nIn: 5, nRec: 8, nOut: 2 })));
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runIn(cwd, args, { env });
const json = (s: string) => JSON.parse(s) as { loss: number; grads: Record<string, unknown> };

describe("edgeprop grad from a user's folder, on every backend", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim({ dir: join(cwd, "board") });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it("host, wasm, sim (started here), qemu and fpga-sim read a relative case path", async () => {
    const results: Record<string, ReturnType<typeof json>> = {};
    for (const b of ["host", "wasm", "sim", "qemu", "fpga-sim"]) {
      const r = await run(["grad", "case.json", "--backend", b]);
      expect(r.code, `${b}: ${r.stderr}`).toBe(0);
      results[b] = json(r.stdout);
    }
    // the device backends run the same float32 kernels bit for bit
    expect(results.sim).toEqual(results.wasm);
    expect(results.qemu).toEqual(results.wasm);
    expect(Math.abs(results.host!.loss - results.wasm!.loss)).toBeLessThan(1e-3 * Math.abs(results.host!.loss));
  }, 300_000); // five CLI runs, a firmware build and QEMU on a shared machine

  it("--port alone (relative or absolute) computes on the board there, not on the host (defect 2)", async () => {
    const wasm = json((await run(["grad", "case.json", "--backend", "wasm"])).stdout);
    for (const port of ["board/host", join(cwd, "board", "host")]) {
      const r = await run(["grad", "case.json", "--port", port]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`waiting for the board on ${port} (up to 30 s)`);
      expect(json(r.stdout)).toEqual(wasm); // the device's float32 answer, not the float64 reference's
    }
  });

  it("a port that does not exist, or --port where no board is reached, is one line and exit 2 (defect 2)", async () => {
    const missing = await run(["grad", "case.json", "--port", "no/such/port"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^edgeprop grad: --port: cannot open serial port no\/such\/port/)]);
    const host = await run(["grad", "case.json", "--backend", "host", "--port", "board/host"]);
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/--port: a board's serial port, for --backend sim\|qemu; backend 'host' runs no board/);
  });
});

describe("waiting for a silent board (defect 5)", () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await openPtyPair(join(cwd, "silent")); // a cable with nothing at the other end
  });
  afterAll(async () => {
    await pty?.close();
  });

  for (const [verb, args] of [
    ["grad", ["grad", "case.json", "--port", "silent/host", "--timeout", "1"]],
    ["train", ["train", "--task", "pattern", "--quick", "--port", "silent/host", "--timeout", "1", "--out", "silent-run"]],
    ["monitor", ["monitor", "--port", "silent/host", "--timeout", "1"]],
  ] as const) {
    it(`${verb} says what it waits for and how long, then gives up with exit 4`, async () => {
      const r = await run([...args]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("waiting for the board on silent/host (up to 1 s)...");
      expect(r.stderr).toMatch(/no answer from a board on silent\/host within 1 s/);
      expect(r.stdout).toBe("");
    });
  }

  it("a failed train writes no run folder", async () => {
    expect(existsSync(join(cwd, "silent-run"))).toBe(false);
  });
});

describe("edgeprop demo and train from a user's folder (defects 1, 13)", () => {
  it("demo: relative --out, results on stdout (demo > log is not empty), progress on stderr", async () => {
    const r = await run(["demo", "--out", "demo-out", "--iterations", "5"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1\. e-prop gradients on the simulated board .* max relative difference \d\.\d+e-\d+$/m);
    expect(r.stdout).toMatch(/^2\. pattern generation on the simulated board: loss .* on 1 trial\(s\)/m);
    expect(r.stdout).toMatch(/link: \d+ frames sent, \d+ retransmitted, \d+ CRC failures, 0 injected byte faults/);
    expect(r.stderr).toMatch(/waiting for the board on \/.* \(up to 30 s\)/);
    expect(r.stderr).not.toMatch(/^1\. /m);
    const result = JSON.parse(readFileSync(join(cwd, "demo-out", "result.json"), "utf8"));
    expect(result.gradCheck.maxRelDiff).toBeLessThan(1e-4);
    expect(existsSync(join(cwd, "demo-out", "run", "report.html"))).toBe(true);
  });

  it("train --board sim: relative --out, the run and its link statistics (stdout)", async () => {
    const r = await run(["train", "--task", "evidence", "--quick", "--board", "sim", "--iterations", "4", "--out", "r1", "--test-trials", "5"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^run written to r1\/ \(board sim; final loss .*; test accuracy [\d.]+ on 5 held-out trials \(chance 0\.5\)\)$/m);
    expect(r.stdout).toMatch(/^link: \d+ frames sent, \d+ retransmitted, \d+ CRC failures, 0 injected byte faults$/m);
    expect(JSON.parse(readFileSync(join(cwd, "r1", "run.json"), "utf8")).board).toBe("sim");
  });

  it("train --board qemu-mps2-an386 with an absolute --out", async () => {
    const out = join(cwd, "abs", "q1");
    const r = await run(["train", "--task", "pattern", "--quick", "--task-opt", "steps=40,nIn=8,nRec=10", "--iterations", "3", "--board", "qemu-mps2-an386", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).iteration)).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(join(out, "run.json"), "utf8")).board).toBe("qemu-mps2-an386");
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).link.framesSent).toBeGreaterThan(0);
  });

  it("train --port alone trains on the board there and run.json names it (defect 2)", async () => {
    const sim = await startSim({ dir: join(cwd, "board2") });
    try {
      const r = await run(["train", "--task", "pattern", "--quick", "--task-opt", "steps=40,nIn=8,nRec=10", "--iterations", "2", "--port", "board2/host", "--out", "on-port"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(cwd, "on-port", "run.json"), "utf8")).board).toBe("sim");
    } finally {
      await sim.stop();
    }
    const gone = await run(["train", "--task", "pattern", "--port", "/nonexistent", "--out", "never"]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/--port: cannot open serial port \/nonexistent/);
    expect(existsSync(join(cwd, "never"))).toBe(false);
  });
});

describe("stopping (defects 7, 13)", () => {
  it("train --json | head -1: a closed stdout ends the run quietly", async () => {
    const t = startEdgeprop(cwd, ["train", "--task", "pattern", "--quick", "--iterations", "100000", "--out", "piped", "--json"]);
    await t.line(/"iteration":1\b/, "stdout");
    t.child.stdout.destroy(); // what `head -1` does after its line
    expect(await t.exited).toBe(0);
    expect(t.stderr()).not.toMatch(/EPIPE|Error|at .*\.ts:\d+/);
  });

  it("Ctrl-C stops after the current iteration, says where and how to resume; the command it prints resumes", async () => {
    const t = startEdgeprop(cwd, ["train", "--task", "pattern", "--quick", "--iterations", "30", "--checkpoint-every", "2", "--json"]);
    await t.line(/"iteration":2\b/, "stdout");
    t.child.kill("SIGINT");
    expect(await t.exited).toBe(130);
    const stopped = /stopped after iteration (\d+) of 30; the checkpoint in (\S+) holds iteration (\d+)\./.exec(t.stderr());
    expect(stopped, t.stderr()).not.toBeNull();
    expect(stopped![2]).toBe(join("runs", "pattern-seed1"));
    const how = /resume with: (edgeprop train .*--resume)$/m.exec(t.stderr())![1]!;
    expect(how).toBe("edgeprop train --task pattern --quick --iterations 30 --checkpoint-every 2 --json --out runs/pattern-seed1 --resume");
    const resumed = await run(how.split(" ").slice(1));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming runs/pattern-seed1 from its checkpoint at iteration ${stopped![3]}`);
    expect(JSON.parse(resumed.stdout.split("\n")[0]!).iteration).toBe(Number(stopped![3]) + 1);
  }, 180_000);

  it("--resume on a finished run says so and writes nothing (defect 3)", async () => {
    const first = await run(["train", "--task", "pattern", "--quick", "--task-opt", "steps=40,nIn=8,nRec=10", "--iterations", "3", "--out", "done"]);
    expect(first.code, first.stderr).toBe(0);
    const before = readFileSync(join(cwd, "done", "summary.json"), "utf8");
    const again = await run(["train", "--task", "pattern", "--quick", "--task-opt", "steps=40,nIn=8,nRec=10", "--iterations", "3", "--out", "done", "--resume"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/the run in done is complete \(3 of 3 iterations\): nothing to resume/);
    expect(readFileSync(join(cwd, "done", "summary.json"), "utf8")).toBe(before);
    expect(JSON.parse(before).finalLoss).toEqual(expect.any(Number));
  });
});

describe("flags that were silently ignored (defect 13)", () => {
  const cfg = join(cwd, "cfg.json");
  beforeAll(async () => {
    const c = randomCase({ seed: 5, T: 20, nIn: 4, nRec: 6, nOut: 2 });
    const { format: _f, ...body } = c;
    writeFileSync(cfg, JSON.stringify({ ...body, name: "cfg", iterations: 2, optimizer: { kind: "adam", lr: 0.001, lR: 0.5 } }));
  });

  it("--lr with --config overrides the file (and says so); unknown optimizer fields warn", async () => {
    const r = await run(["train", "--config", "cfg.json", "--lr", "0.02", "--out", "lr-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: cfg\.json: optimizer\.lR is not a field edgeprop reads \(ignored\)/);
    expect(r.stderr).toMatch(/cfg\.json: optimizer adam, lr 0\.02, 2 iterations \(overridden on the command line\)/);
    expect(JSON.parse(readFileSync(join(cwd, "lr-run", "run.json"), "utf8")).optimizer.lr).toBe(0.02);
  });

  it("task flags with --config are refused, naming the flag", async () => {
    const r = await run(["train", "--config", "cfg.json", "--seed", "3", "--out", "seed-run"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^edgeprop train: --seed: only with --task/);
  });

  it("--quick means something for every task", async () => {
    for (const t of tasks) expect(Object.keys(t.quick).length, t.name).toBeGreaterThan(0);
  });
});

describe("help, version and ports (defect 11)", () => {
  it("every verb's --help has a description, every flag with its default, and an example", async () => {
    const check = (name: string, help: string) => {
      expect(help).toMatch(new RegExp(`^edgeprop ${name} — .+\\n\\nusage: edgeprop ${name}`));
      const flagLines = help.split("\n").filter((l) => /^ {2}(-h, | {4})--[a-zA-Z]/.test(l));
      expect(flagLines.length, name).toBeGreaterThan(2);
      // a flag's text may wrap onto the next line; its default closes it
      const text = help.slice(help.indexOf("options:"), help.indexOf("examples:"));
      expect(text.match(/\(default: [^)]*\)?/g)!.length, name).toBe(flagLines.length);
      expect(help).toMatch(new RegExp(`examples:\\n  edgeprop ${name}`));
    };
    for (const c of commands) check(c.name, c.help());
    // and the CLI prints exactly that, on stdout, for `VERB --help`
    const r = await run(["train", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(commands.find((c) => c.name === "train")!.help() + "\n");
  });

  it("--version prints the package version; an unknown flag is one line and exit 2", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect((await run(["--version"])).stdout).toBe(`edgeprop ${pkg.version}\n`);
    const bad = await run(["grad", "case.json", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^edgeprop grad: --bogus: unknown flag; expected one of .*--port/);
  });

  it("ports --json lists this machine's serial ports as [{path, usb, boards}]", async () => {
    const r = await run(["ports", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { path: string; usb: string | null; boards: unknown[] }[];
    for (const p of rows) expect(p).toMatchObject({ path: expect.stringMatching(/^\/dev\//), boards: expect.any(Array) });
  });
});

describe("state in a per-user folder (defect 12)", () => {
  it("edgeprop sim runs for another user, with the package read-only to them", async () => {
    // nobody cannot write the package (root-owned) nor HOME; its state goes to <tmp>/edgeprop-65534.
    // The firmware build is copied in so the test does not recompile it.
    const cache = await freshState("edgeprop-nobody-");
    execFileSync("chown", ["-R", "65534:65534", cache]);
    const userCwd = join(cache, "work");
    mkdirSync(userCwd);
    chownSync(userCwd, 65534, 65534);
    const s = startEdgeprop(userCwd, ["sim", "--json"], {
      command: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      env: { HOME: "/nonexistent", XDG_CACHE_HOME: cache },
    });
    const line = await s.line(/"port"/, "stdout");
    const port = JSON.parse(line).port as string;
    expect(port.startsWith(join(cache, "edgeprop", "sim"))).toBe(true);
    s.child.kill("SIGINT");
    expect(await s.exited, s.stderr()).toBe(0);
    expect(readdirSync(join(cache, "edgeprop", "sim")).filter((f) => f !== "storage.bin")).toEqual([]); // its pty folder is gone
  });
});
