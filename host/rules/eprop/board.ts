// e-prop's gradients on a board (`grad --backend sim|qemu`, `--port`): CONFIGURE, WRITE the
// parameters, RUN the trial in frames, read GRADS.
import type { Case } from "../../model/types.ts";
import type { DeviceClient } from "../../session/client.ts";
import type { GradOutput } from "../rule.ts";

export async function epropOnBoard(c: Case, dev: DeviceClient): Promise<GradOutput> {
  await dev.configure(c.model, c.feedback.kind);
  await dev.writeParams(c.params, c.feedback.B);
  const r = await dev.runTrial(c.inputs, c.targets, c.mask);
  return { loss: r.loss, grads: await dev.readGrads() };
}
