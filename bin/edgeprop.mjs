#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a clean clone needs no build step before `npx edgeprop`.
import { register } from "tsx/esm/api";
register();
await import("../host/cli/main.ts");
