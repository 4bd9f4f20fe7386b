// The registry of `npm run bench` sections, run in this order in one process.
import type { BenchSection } from "./section.ts";
import { epropStepSection } from "./eprop-step.ts";
import { eqpropSection } from "./eqprop.ts";
import { salSection } from "./sal.ts";
import { decolleSection } from "./decolle.ts";
import { fpgaSection } from "./fpga.ts";
import { linkSection } from "./link.ts";
import { mcuSection } from "./mcu.ts";

export const sections: BenchSection[] = [
  epropStepSection,
  salSection,
  decolleSection,
  eqpropSection,
  linkSection,
  mcuSection,
  fpgaSection,
];
