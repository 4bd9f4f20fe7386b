// The firmware .wasm as a native program — wasm2c and the host gcc, as the MCU pipeline compiles
// it — around the fuzz harness tests/fixtures/native/firmware-fuzz.c (the same in-memory HAL as
// tests/fuzz.test.ts's Node worker), fed a batch of inputs in one run.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildNativeProgram } from "../../host/device/native.ts";
import { cacheDir, repoPath } from "../../host/paths.ts";

export const NATIVE_STATUS = { answered: 0, stuck: 1, trap: 2 } as const;

export interface NativeBatch {
  /** What the firmware wrote for each input, up to the first that did not end with an answer. */
  outs: Uint8Array[];
  /** Set when the run stopped early: which input, and why. */
  stop?: { index: number; status: number; why: string };
}

export function buildNativeFirmware(wasmPath: string): Promise<string> {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath)));
  const env = imports.some((i) => i.module === "env");
  const harness = readFileSync(repoPath("tests", "fixtures", "native", "firmware-fuzz.c"), "utf8");
  return buildNativeProgram(wasmPath, "fw", `#define FW_IMPORTS_ENV ${env ? 1 : 0}\n${harness}`);
}

export async function runNativeFirmware(exe: string, inputs: readonly Uint8Array[]): Promise<NativeBatch> {
  const dir = cacheDir("native", "runs");
  mkdirSync(dir, { recursive: true });
  const tag = `fuzz-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const inFile = join(dir, `${tag}.in`);
  const outFile = join(dir, `${tag}.out`);
  const parts: Uint8Array[] = [];
  for (const x of inputs) {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(x.length);
    parts.push(head, x);
  }
  writeFileSync(inFile, Buffer.concat(parts));
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(exe, [inFile, outFile], (err, _stdout, stderr) => (err ? reject(new Error(`${exe}: ${err.message}\n${stderr}`)) : resolve())),
    );
    const raw = readFileSync(outFile);
    const batch: NativeBatch = { outs: [] };
    for (let at = 0; at + 8 <= raw.length; ) {
      const status = raw.readUInt32LE(at);
      const len = raw.readUInt32LE(at + 4);
      const data = new Uint8Array(raw.subarray(at + 8, at + 8 + len));
      at += 8 + len;
      if (status !== NATIVE_STATUS.answered) {
        batch.stop = { index: batch.outs.length, status, why: status === NATIVE_STATUS.trap ? `trap: ${Buffer.from(data).toString("latin1")}` : "input not consumed / still busy after 100000 polls" };
        break;
      }
      batch.outs.push(data);
    }
    return batch;
  } finally {
    rmSync(inFile, { force: true });
    rmSync(outFile, { force: true });
  }
}
