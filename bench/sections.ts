// The registry of `npm run bench` sections, run in this order in one process.
import type { BenchSection } from "./section.ts";

export const sections: BenchSection[] = [
];
