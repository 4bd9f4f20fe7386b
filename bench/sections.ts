// The registry of `npm run bench` sections, run in this order in one process.
import type { BenchSection } from "./section.ts";
import { epropStepSection } from "./eprop-step.ts";
import { eqpropSection } from "./eqprop.ts";
import { salSection } from "./sal.ts";
import { salTrainSection } from "./sal-train.ts";
import { decolleSection } from "./decolle.ts";
import { fpgaSection } from "./fpga.ts";
import { linkSection } from "./link.ts";
import { mcuSection } from "./mcu.ts";
import { ostlSection } from "./ostl.ts";
import { replicasSection } from "./replicas.ts";

export const sections: BenchSection[] = [
  epropStepSection,
  ostlSection,
  salSection,
  salTrainSection,
  decolleSection,
  eqpropSection,
  linkSection,
  mcuSection,
  replicasSection,
  fpgaSection,
];
