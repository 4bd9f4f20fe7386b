// Input is hostile until checked (issue 16, defects 3, 4, 6, 8, 9, 10): a case, a run config, a
// checkpoint or a board file that is out of bounds is answered with one line naming the field
// or the limit, exit 2, and nothing written; nothing built from input reaches a shell; a run
// folder that is not edgeprop's is never written; `flash --stop` signals only its own QEMU; the
// simulated board survives a burst of garbage and refuses a negative learning rate.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { getBoard, validateBoard } from "../boards/index.ts";
import { randomCase } from "../host/case/random.ts";
import { buildFirmware } from "../host/firmware/build.ts";
import { resolveWasm } from "../host/firmware/source.ts";
import { requireTool } from "../host/firmware/tools.ts";
import { InputError } from "../host/input/errors.ts";
import { startInProcessBoard } from "../host/sim/inprocess.ts";
import { startSim } from "../host/sim/sim.ts";
import { Session } from "../host/session/session.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { DeviceError, ErrorCode, MsgType } from "../protocol/messages.ts";
import { runIn } from "./helpers/cli.ts";

const cwd = mkdtempSync(join(tmpdir(), "edgeprop-hostile-"));
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runIn(cwd, args, { env });

/** Every file under `dir` with a hash of its bytes: what "nothing written" compares. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = createHash("sha256").update(readFileSync(p)).digest("hex") + `@${statSync(p).mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

/** One line on stderr naming `field`, exit 2, nothing on stdout. */
function refused(r: { code: number | null; stdout: string; stderr: string }, verb: string, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines.at(-1)).toMatch(new RegExp(`^edgeprop ${verb}: `));
  expect(lines.at(-1)).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  expect(r.stdout).toBe("");
}

describe("sizes are checked against the host memory limit before anything is allocated (defect 4)", () => {
  it("a case with nRec 65536 and no wRec (a 65536² matrix) is refused, naming model.nRec and the limit", async () => {
    const nRec = 65536;
    const c = { format: "hil-case/1", model: { neuron: "lif", nIn: 1, nRec, nOut: 1 }, params: { wIn: Array.from({ length: nRec }, () => [0.5]), wOut: [new Array(nRec).fill(0.1)] }, inputs: [[1], [0]], targets: [[0], [1]] };
    writeFileSync(join(cwd, "huge.json"), JSON.stringify(c));
    expect(statSync(join(cwd, "huge.json")).size).toBeGreaterThan(500_000);
    refused(await run(["grad", "huge.json"]), "grad", /model\.nRec: nIn 1 x nRec 65536 x nOut 1 over 2 steps needs about \d+ MiB, over the host memory limit of 1024 MiB/);
  });

  it("a --task-opt nRec=100000 is refused before the network is drawn, and no run folder appears", async () => {
    const before = snapshot(cwd);
    refused(await run(["train", "--task", "pattern", "--task-opt", "nRec=100000", "--out", "big-task"]), "train", /--task-opt nRec: nIn 100 x nRec 100000 .* over the host memory limit/);
    expect(snapshot(cwd)).toEqual(before);
  });

  it("an input file larger than the input limit is refused before it is read", async () => {
    writeFileSync(join(cwd, "large.json"), " ".repeat(2 << 20) + "{}");
    refused(await run(["grad", "large.json"], { EDGEPROP_MAX_MEMORY_MB: "4" }), "grad", /large\.json: file of 2 MiB is over the input limit of 1 MiB/);
  });
});

describe("run names are names, and a folder that is not an edgeprop run is never written (defect 9)", () => {
  const cfg = (name: string) => {
    const c = randomCase({ seed: 3, T: 10, nIn: 3, nRec: 4, nOut: 1 });
    const { format: _f, ...body } = c;
    const file = `cfg-${name.replace(/\W/g, "_")}.json`;
    writeFileSync(join(cwd, file), JSON.stringify({ ...body, name, iterations: 2 }));
    return file;
  };

  it("a config whose name is a path is refused when it would name the folder", async () => {
    // run from <cwd>/a/b: runs/../../escape would be <cwd>/a/escape
    const deep = join(cwd, "a", "b");
    mkdirSync(deep, { recursive: true });
    const file = cfg("../../escape");
    const before = snapshot(join(cwd, "a"));
    refused(await runIn(deep, ["train", "--config", join("..", "..", file)]), "train", /cfg-______escape\.json: name: expected a run name .* \(not a path\)/);
    expect(snapshot(join(cwd, "a"))).toEqual(before);
    expect(readdirSync(join(cwd, "a"))).toEqual(["b"]);
  });

  it("--out naming a folder with someone's files is refused and left as it was", async () => {
    const theirs = join(cwd, "theirs");
    mkdirSync(theirs);
    writeFileSync(join(theirs, "params.json"), "precious");
    writeFileSync(join(theirs, "summary.json"), "precious");
    const before = snapshot(theirs);
    refused(await run(["train", "--config", cfg("fine"), "--out", "theirs"]), "train", /--out: theirs is not an edgeprop run folder/);
    refused(await run(["demo", "--out", "theirs"]), "demo", /--out: theirs is not an edgeprop demo folder/);
    refused(await run(["report", "theirs", "--json"]), "report", /theirs\/run\.json: missing/);
    expect(snapshot(theirs)).toEqual(before);
  });
});

describe("a checkpoint is validated before it is trusted (defect 3)", () => {
  const cfgFile = "adam.json";
  let hostRun = "";
  let boardRun = "";
  beforeAll(async () => {
    const c = randomCase({ neuron: "alif", recurrent: true, seed: 6, T: 30, nIn: 4, nRec: 6, nOut: 2 });
    const { format: _f, ...body } = c;
    writeFileSync(join(cwd, cfgFile), JSON.stringify({ ...body, iterations: 6, optimizer: { kind: "adam", lr: 0.01 } }));
    for (const [dir, board] of [["cp-host", "host"], ["cp-sim", "sim"]] as const) {
      const r = await run(["train", "--config", cfgFile, "--out", dir, "--board", board, "--checkpoint-every", "3", "--iterations", "6"]);
      expect(r.code, r.stderr).toBe(0);
    }
    hostRun = join(cwd, "cp-host");
    boardRun = join(cwd, "cp-sim");
  });

  /** A copy of a finished run with its checkpoint mutated (checked before "already complete"). */
  function tamper(dir: string, name: string, mutate: (cp: any) => void): string {
    const copy = join(cwd, name);
    mkdirSync(copy);
    for (const f of readdirSync(dir)) writeFileSync(join(copy, f), readFileSync(join(dir, f)));
    const cp = JSON.parse(readFileSync(join(copy, "checkpoint.json"), "utf8"));
    mutate(cp);
    writeFileSync(join(copy, "checkpoint.json"), JSON.stringify(cp));
    return name;
  }
  const resume = (dir: string, board: string) => run(["train", "--config", cfgFile, "--out", dir, "--board", board, "--checkpoint-every", "3", "--iterations", "6", "--resume"]);

  const CASES: [string, "host" | "sim", (cp: any) => void, RegExp][] = [
    ["a negative Adam second moment", "host", (cp) => (cp.state.optimizer.v.wIn[2] = -1), /checkpoint\.json: state\.optimizer\.v\.wIn\[2\]: expected a number >= 0 \(Adam's second moment/],
    ["an iteration beyond the run", "host", (cp) => (cp.iteration = 1e9), /checkpoint\.json: iteration: expected an iteration in \[1, 6\]/],
    ["a step count that is not the iteration", "host", (cp) => (cp.state.optimizer.step = 2), /checkpoint\.json: state\.optimizer\.step: expected at least 6/],
    ["a moment of the wrong size", "host", (cp) => cp.state.optimizer.m.wRec.pop(), /state\.optimizer\.m\.wRec: expected 36 numbers/],
    ["a NaN weight", "host", (cp) => (cp.state.params.wOut[1][2] = "NaN"), /state\.params\.wOut\[1\]\[2\]: expected a finite number/],
    ["host weights that are not the board's", "sim", (cp) => (cp.state.params.wRec[1][3] += 0.5), /checkpoint\.json: state\.device: wRec\[1\]\[3\] is .* on the board but .* in the host checkpoint/],
    ["a damaged board blob", "sim", (cp) => {
      const b = Buffer.from(cp.state.device, "base64");
      b.writeUInt8(b.readUInt8(200) ^ 0x10, 200);
      cp.state.device = b.toString("base64");
    }, /checkpoint\.json: state\.device: CRC-32C mismatch/],
    ["a board blob of another model", "sim", (cp) => {
      const b = Buffer.from(cp.state.device, "base64");
      b.writeUInt32LE(7, 20);
      cp.state.device = b.toString("base64");
    }, /state\.device: (CRC-32C mismatch|holds a model of nIn 4 x nRec 7)/],
  ];
  CASES.forEach(([label, board, mutate, pattern], i) => {
    it(`${label}: one line, exit 2, nothing written`, async () => {
      const dir = tamper(board === "host" ? hostRun : boardRun, `bad-${i}`, mutate);
      const before = snapshot(join(cwd, dir));
      refused(await resume(dir, board), "train", pattern);
      expect(snapshot(join(cwd, dir))).toEqual(before);
    });
  });

  it("resuming a finished run writes nothing (its summary keeps its numbers)", async () => {
    const before = snapshot(hostRun);
    const r = await resume("cp-host", "host");
    expect(r.code, r.stderr).toBe(0);
    expect(snapshot(hostRun)).toEqual(before);
    expect(JSON.parse(readFileSync(join(hostRun, "summary.json"), "utf8")).finalLoss).toEqual(expect.any(Number));
  });
});

describe("no shell for anything built from input (defect 8)", () => {
  const marker = join(cwd, "pwned");
  const evil = `sh -c 'touch ${marker}'`;

  it("a board file naming a command as its compiler is refused at load, naming the field", async () => {
    const raw = JSON.parse(readFileSync(new URL("../boards/qemu-mps2-an386.json", import.meta.url), "utf8"));
    raw.toolchain.cc = evil;
    expect(() => validateBoard(raw, "boards/evil.json")).toThrow(/^boards\/evil\.json\.toolchain\.cc: expected one of 'arm-none-eabi-gcc', got 'sh -c 'touch/);
  });

  it("a board that slipped past validation still runs no command: the tool lookup walks PATH itself", async () => {
    const board = getBoard("qemu-mps2-an386");
    const hostile = { ...board, toolchain: { ...board.toolchain!, cc: evil } };
    const wasmPath = await resolveWasm("echo");
    await expect(buildFirmware({ board: hostile, wasmPath, force: true })).rejects.toThrow(/boards\/qemu-mps2-an386\.json\.toolchain\.cc: expected one of/);
    expect(() => requireTool(`gcc; touch ${marker}`)).toThrow(InputError);
    const substitution = "$(touch /tmp/x)";
    expect(() => requireTool(substitution)).toThrow(/tool: expected one of wasm2c/);
    expect(existsSync(marker)).toBe(false);
    expect(requireTool("gcc")).toMatch(/^\/.*\/gcc$/);
  });
});

describe("flash --stop signals only the QEMU it started and deletes only its own files (defect 10)", () => {
  it("a state file naming another process and a file outside the state folder changes nothing", async () => {
    const state = mkdtempSync(join(tmpdir(), "edgeprop-stop-state-"));
    const qemuDir = join(state, "edgeprop", "qemu");
    mkdirSync(qemuDir, { recursive: true });
    const victim = join(cwd, "victim.txt");
    writeFileSync(victim, "keep me");
    const bystander = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      const stat = readFileSync(`/proc/${bystander.pid}/stat`, "utf8");
      const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      for (const ticks of [startTicks + 1, startTicks]) {
        // wrong start time first (a reused pid), then the right one (a process that is not QEMU)
        writeFileSync(join(qemuDir, "qemu-mps2-an386.running.json"), JSON.stringify({
          board: "qemu-mps2-an386", pid: bystander.pid, startTicks: ticks, pty: "/dev/pts/99", monitor: victim, log: victim, elf: victim,
        }));
        const r = await run(["flash", "--board", "qemu-mps2-an386", "--stop", "--json"], { XDG_CACHE_HOME: state });
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toEqual({ board: "qemu-mps2-an386", stopped: null });
        expect(r.stderr).toMatch(new RegExp(`pid ${bystander.pid} is not the QEMU edgeprop started`));
        expect(bystander.exitCode).toBeNull();
        expect(() => process.kill(bystander.pid!, 0)).not.toThrow();
        expect(readFileSync(victim, "utf8")).toBe("keep me");
        expect(existsSync(join(qemuDir, "qemu-mps2-an386.running.json"))).toBe(false);
      }
    } finally {
      bystander.kill();
    }
  });
});

describe("the simulated board under hostile bytes (defect 6)", () => {
  it("a 256 KiB burst of random bytes does not stall the link: the next HELLO is answered", async () => {
    const sim = await startSim();
    const t = await SerialTransport.open(sim.port);
    const s = new Session(t, { timeoutMs: 200, retries: 1000, silenceMs: 20_000 });
    try {
      await s.connect();
      for (let burst = 0; burst < 3; burst++) {
        t.write(randomBytes(256 * 1024));
        expect((await s.connect()).board).toBe("sim");
      }
    } finally {
      await s.close();
      await sim.stop();
    }
  });

  it("APPLY with lr = -1 (or 0) is refused by the device, naming lr", async () => {
    const { transport } = await startInProcessBoard();
    const s = new Session(transport, { timeoutMs: 200 });
    try {
      await s.connect();
      await s.request(MsgType.CONFIGURE, { nIn: 2, nRec: 3, nOut: 1, optimizer: "adam" });
      for (const lr of [-1, 0]) {
        const e = await s.request(MsgType.APPLY, { opt: 1, lr }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(DeviceError);
        expect((e as DeviceError).code).toBe(ErrorCode.BAD_FIELD);
        expect((e as DeviceError).message).toMatch(/lr.*must be a finite number > 0/);
      }
      expect(await s.request(MsgType.APPLY, { opt: 1, lr: 0.01 })).toMatchObject({ k: 1 });
    } finally {
      await s.close();
    }
  });
});
