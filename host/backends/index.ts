// The registry of gradient backends for `edgeprop grad --backend NAME`.
import type { GradBackend } from "./backend.ts";
import { hostBackend } from "./host.ts";

export const backends: GradBackend[] = [
  hostBackend,
];
