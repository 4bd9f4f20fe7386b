// The e-prop gradients of the edgeprop firmware on the emulated Cortex-M4 (wasm2c + arm-none-eabi-gcc,
// -ffp-contract=off) equal, bit for bit, those of the same kernels in V8 (`--backend wasm`, scalar
// build): float32 rounding is the same in both when no multiply-add is fused. The case goes over the
// QEMU pty with the protocol client, as on a real board; the instruction counter gives its cost.
import { describe, expect, it } from "vitest";
import { wasmBackend } from "../host/backends/wasm.ts";
import { randomCase } from "../host/case/random.ts";
import { startQemuBoard } from "../host/firmware/qemu-board.ts";
import type { Case, GradResult } from "../host/model/types.ts";
import { DeviceClient } from "../host/session/client.ts";
import { Session } from "../host/session/session.ts";
import { SerialTransport } from "../host/transport/serial.ts";
import { MsgType } from "../protocol/messages.ts";

/**
 * The case's e-prop gradients from a board, then one PING: its answer comes from a poll that
 * starts after every poll of the gradient has returned, and each poll's cost is reported when it
 * returns — so once the PING is answered, the gradient's costs are all in (an event, not a wait).
 * The long per-attempt timeout keeps a loaded machine from adding retransmissions.
 */
async function gradThenPing(c: Case, port: string): Promise<GradResult & { retransmits: number }> {
  const s = new Session(await SerialTransport.open(port), { timeoutMs: 10_000, retries: 5 });
  try {
    const dev = new DeviceClient(s);
    await dev.hello();
    await dev.configure(c.model, c.feedback.kind);
    await dev.writeParams(c.params, c.feedback.B);
    const r = await dev.runTrial(c.inputs, c.targets, c.mask);
    const grads = await dev.readGrads();
    await s.request(MsgType.PING, {});
    return { loss: r.loss, grads, retransmits: s.stats.retransmits };
  } finally {
    await s.close();
  }
}

describe("e-prop on the emulated Cortex-M4", () => {
  it("gives the same loss and gradients as the wasm backend, bit for bit, and reports its instruction cost", async () => {
    const c = randomCase({ neuron: "alif", recurrent: true, seed: 7, nIn: 6, nRec: 10, nOut: 3, T: 40 });
    const ref = await wasmBackend.grad(c, { rule: "eprop", flags: {} });
    const costs: number[] = [];
    for (let run = 0; run < 2; run++) {
      const board = await startQemuBoard({ board: "qemu-mps2-an386", icount: true });
      try {
        const got = await gradThenPing(c, board.port);
        expect(got.loss).toBe(ref.loss);
        expect(got.grads).toEqual(ref.grads);
        // the PING's own poll (a few hundred instructions) may or may not be in yet: negligible
        costs.push(board.costs().polls.reduce((a, b) => a + b, 0));
        console.log(`qemu-grad run ${run}: ${costs[run]} instructions in the polls that touched the UART, ${got.retransmits} retransmissions`);
      } finally {
        await board.stop();
      }
    }
    expect(costs[0]).toBeGreaterThan(10_000);
    // The computation is the same instructions every time; what varies is how the request bytes
    // split across polls (measured: 0.04 % on a quiet machine, 0.2 % under load) and any
    // retransmission the firmware answers again. Exactness is proven on a known loop and on
    // repeated identical polls in qemu-icount.test.ts.
    expect(Math.abs(costs[1]! - costs[0]!) / costs[0]!).toBeLessThan(0.1);
  }, 240_000);
});
