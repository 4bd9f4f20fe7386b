// The learning-rule seam, host and device: the registry's errors (`grad`, `train`), HELLO's
// `rules` tied to the host registry, a firmware built without a rule refusing it on the wire
// and through the host (naming the rule and the board), the firmware allocating nothing, and
// checkpoints checked against the rule's tensors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { getBoard, validateBoard } from "../boards/index.ts";
import { buildFirmware } from "../device/firmware/build.ts";
import { randomCase } from "../host/case/random.ts";
import { ruleOmitFlags } from "../host/firmware/build.ts";
import { cacheDir } from "../host/paths.ts";
import { firmwareWasmFor } from "../host/firmware/source.ts";
import { InputError } from "../host/input/errors.ts";
import { deviceRuleNames, rules } from "../host/rules/index.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { FirmwareHost } from "../host/sim/firmware-host.ts";
import { startSim } from "../host/sim/sim.ts";
import { InProcessTransport } from "../host/transport/inprocess.ts";
import { DeviceError, ErrorCode, MsgType } from "../protocol/messages.ts";
import { ROOT } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeprop-rules-"));

/** The CLI run from a folder outside the repository. */
function edgeprop(args: string[]) {
  const r = spawnSync(process.execPath, [`${ROOT}bin/edgeprop.mjs`, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const c = randomCase({ seed: 11, T: 30, nIn: 4, nRec: 6, nOut: 2 });
writeFileSync(join(dir, "case.json"), JSON.stringify(c));

/** A board like `sim` whose firmware carries no rule at all (boards/*.json `rules: []`). */
const bare = validateBoard({ ...JSON.parse(readFileSync(join(ROOT, "boards/sim.json"), "utf8")), id: "bare", rules: [] }, "boards/bare.json");

async function client(wasm: Uint8Array, boardId: string) {
  const fw = await FirmwareHost.create(wasm, { boardId });
  fw.init();
  const s = new Session(new InProcessTransport(fw), { timeoutMs: 40, retries: 60, maxFrame: 2048 });
  return new DeviceClient(s);
}

async function deviceError(p: Promise<unknown>): Promise<DeviceError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  return err as DeviceError;
}

let full: Uint8Array;
let none: Uint8Array;
let nonePath: string;
beforeAll(async () => {
  full = (await buildFirmware()).bytes;
  nonePath = await firmwareWasmFor(bare);
  none = readFileSync(nonePath);
});

describe("the rule registry on the command line", () => {
  it("an unknown rule is refused with the known rules listed", () => {
    const r = edgeprop(["grad", "case.json", "--rule", "nosuch"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--rule: expected one of ${rules.map((x) => x.name).join("|")}, got 'nosuch'`);
    const t = edgeprop(["train", "--task", "pattern", "--rule", "nosuch", "--out", "t"]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--rule: expected one of .*eprop.*, got 'nosuch'/);
  });

  it("a rule without a device kernel is refused on a device backend and a board, before anything starts", () => {
    expect(rules.find((x) => x.name === "bptt")!.wasm).toBeUndefined();
    for (const backend of ["wasm", "sim", "qemu"]) {
      const r = edgeprop(["grad", "case.json", "--rule", "bptt", "--backend", backend]);
      expect(r.code, backend).toBe(2);
      expect(r.stderr).toContain(`--backend: rule 'bptt' has no device kernel (it runs on --backend host); backend '${backend}' runs eprop`);
    }
    const { format: _f, ...body } = c;
    writeFileSync(join(dir, "bptt-run.json"), JSON.stringify({ ...body, rule: "bptt", optimizer: "adam", iterations: 2 }));
    const t = edgeprop(["train", "--config", "bptt-run.json", "--board", "sim", "--out", "b"]);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain("rule: rule 'bptt' has no device kernel: it trains with --board host only");
  });

  it("the same case runs through the registry on host and wasm (e-prop) and host (bptt)", () => {
    const host = JSON.parse(edgeprop(["grad", "case.json"]).stdout);
    const wasm = JSON.parse(edgeprop(["grad", "case.json", "--backend", "wasm"]).stdout);
    const bptt = JSON.parse(edgeprop(["grad", "case.json", "--rule", "bptt"]).stdout);
    expect(Object.keys(host)).toEqual(["loss", "grads"]);
    expect(Math.abs(wasm.loss - host.loss)).toBeLessThan(1e-4 * Math.abs(host.loss));
    expect(bptt.grads.wIn).toHaveLength(c.model.nRec);
  });
});

describe("HELLO lists the rules the firmware carries", () => {
  it("the default firmware carries every rule with a device kernel, under the host's names", async () => {
    const dev = await client(full, "sim");
    const h = await dev.hello();
    expect(h.rules).toEqual(deviceRuleNames());
    expect(h.rules).toContain("eprop");
    await dev.session.close();
  });

  it("a board's `rules` leaves the others out of its firmware at compile time", async () => {
    expect(ruleOmitFlags(getBoard("sim"))).toEqual([]);
    expect(ruleOmitFlags(bare)).toEqual(deviceRuleNames().flatMap((r) => ["--use", `FW_OMIT_${r.toUpperCase()}=1`]));
    // nothing of e-prop's kernels or handlers is left in the binary
    expect(none.length).toBeLessThan(full.length / 2);
    const dev = await client(none, "bare");
    const h = await dev.hello();
    expect(h.rules).toEqual([]);
    expect(h.caps).not.toContain("eprop");
    await dev.session.close();
    const unknown = validateBoard({ ...JSON.parse(readFileSync(join(ROOT, "boards/sim.json"), "utf8")), id: "odd", rules: ["eprop", "rtrl"] }, "boards/odd.json");
    expect(() => ruleOmitFlags(unknown)).toThrow(/boards\/odd\.json\.rules\[1\]: expected a rule with a device kernel \(eprop.*\), got 'rtrl'/);
  });
});

describe("a firmware without a rule refuses it", () => {
  it("on the wire: CONFIGURE (default rule or named) is ERROR UNSUPPORTED naming the rule", async () => {
    const dev = await client(none, "bare");
    await dev.hello();
    const byDefault = await deviceError(dev.configure(c.model, "symmetric"));
    expect(byDefault.code).toBe(ErrorCode.UNSUPPORTED);
    expect(byDefault.field).toBe("rule");
    expect(byDefault.text).toContain("'eprop'");
    const named = await deviceError(dev.request(MsgType.CONFIGURE, { rule: "eprop", nIn: 2, nRec: 2, nOut: 1 }));
    expect(named.code).toBe(ErrorCode.UNSUPPORTED);
    expect(named.text).toContain("this firmware does not carry rule 'eprop'");
    await dev.session.close();
  });

  it("on the wire, with e-prop carried: a rule it lacks or a bad `rule` field is refused, `rule: \"eprop\"` is e-prop", async () => {
    const dev = await client(full, "sim");
    await dev.hello();
    const lacks = await deviceError(dev.request(MsgType.CONFIGURE, { rule: "rtrl", nIn: 2, nRec: 2, nOut: 1 }));
    expect(lacks.code).toBe(ErrorCode.UNSUPPORTED);
    expect(lacks.text).toContain("this firmware does not carry rule 'rtrl'");
    const bad = await deviceError(dev.request(MsgType.CONFIGURE, { rule: 3, nIn: 2, nRec: 2, nOut: 1 }));
    expect(bad.code).toBe(ErrorCode.BAD_FIELD);
    expect(bad.field).toBe("rule");
    const named = await dev.request(MsgType.CONFIGURE, { rule: "eprop", nIn: 2, nRec: 3, nOut: 1 });
    const plain = await dev.request(MsgType.CONFIGURE, { nIn: 2, nRec: 3, nOut: 1 });
    expect(named.bytes).toBe(plain.bytes);
    expect(named.bytes).toBeGreaterThan(0);
    await dev.session.close();
  });

  it("through the host: InputError naming the rule and the board and listing what its firmware carries", async () => {
    const dev = await client(none, "bare");
    await expect(dev.helloFor("eprop")).rejects.toThrow(InputError);
    await expect(dev.helloFor("eprop")).rejects.toThrow("--rule: board 'bare' runs firmware without rule 'eprop' (it carries no rule)");
    await dev.session.close();
    // `grad --port` on a running board with that firmware, from outside the repo
    const sim = await startSim({ dir: join(dir, "bare-sim"), wasm: nonePath, boardId: "bare" });
    try {
      const r = edgeprop(["grad", "case.json", "--port", sim.port]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--rule: board 'bare' runs firmware without rule 'eprop' (it carries no rule)");
      const host = edgeprop(["grad", "case.json", "--backend", "host", "--port", sim.port]);
      expect(host.code).toBe(2);
      expect(host.stderr).toContain("--port: a board's serial port, for --backend sim|qemu; backend 'host' runs no board");
    } finally {
      await sim.stop();
    }
  });
});

describe("the firmware allocates nothing", () => {
  it("no allocator call and no function table in the compiled firmware (the arena starts at __heap_base)", async () => {
    await buildFirmware();
    const wat = readFileSync(cacheDir("firmware", "firmware.wat"), "utf8");
    expect(wat).toContain("$device/firmware/handlers/hModel");
    expect(wat).not.toMatch(/call \$~lib\/rt\/stub\/__(alloc|new)/);
    expect(wat).not.toContain("call_indirect");
  });
});

describe("checkpoints are checked against the rule's tensors", () => {
  it("a checkpoint whose tensor has the wrong shape is refused on --resume, naming it", () => {
    const { format: _f, ...body } = c;
    writeFileSync(join(dir, "run.json"), JSON.stringify({ ...body, rule: "eprop", optimizer: "adam", iterations: 3 }));
    const ok = edgeprop(["train", "--config", "run.json", "--out", "r", "--json", "--checkpoint-every", "1"]);
    expect(ok.code, ok.stderr).toBe(0);
    const path = join(dir, "r", "checkpoint.json");
    const cp = JSON.parse(readFileSync(path, "utf8"));
    cp.state.params.wRec.pop();
    writeFileSync(path, JSON.stringify(cp));
    const r = edgeprop(["train", "--config", "run.json", "--out", "r", "--resume"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`state.params.wRec: expected ${c.model.nRec} rows (nRec)`);
  });
});
