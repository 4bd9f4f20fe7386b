// Flags several verbs share, declared once so they read and default the same everywhere.
import { DEFAULT_WAIT_S, type BoardTimeouts } from "../link/connect-board.ts";
import { DEFAULT_MEMCHECK, MEMCHECKS, type Memcheck } from "../firmware/memcheck.ts";
import { flagChoice, flagInt, flagNumber, type ParsedArgs } from "./args.ts";
import type { FlagSpec } from "./command.ts";

export const JSON_FLAG: FlagSpec = { type: "boolean", description: "print results as JSON on stdout" };

/** Memory isolation of a firmware build (`build`, `flash`): one flag, one default, one reader. */
export const MEMCHECK_FLAG: FlagSpec = {
  type: "string", value: "mask|bounds", default: DEFAULT_MEMCHECK,
  description: "memory isolation: accesses masked into a fixed power-of-two window, or wasm2c's bounds checks (device/mcu/README.md)",
};

export function memcheck(args: ParsedArgs): Memcheck {
  return flagChoice(args, "memcheck", MEMCHECKS, DEFAULT_MEMCHECK);
}

/** Reaching a board: every verb that waits for one takes these. */
export const BOARD_LINK_FLAGS: Record<string, FlagSpec> = {
  port: { type: "string", value: "PATH", description: "serial port of a running board (edgeprop ports lists them; edgeprop sim and flash print theirs)" },
  timeout: { type: "string", value: "S", default: String(DEFAULT_WAIT_S), description: "seconds to wait for the board to answer (its HELLO, then any request) before giving up" },
};

export const FAULT_FLAGS: Record<string, FlagSpec> = {
  "fault-rate": { type: "string", value: "R", default: "0", description: "probability that each byte on the link, either direction, is dropped, flipped or duplicated" },
  "fault-seed": { type: "string", value: "N", default: "1", description: "seed of the fault pattern (the same seed, the same faults)" },
};

export function timeouts(args: ParsedArgs): BoardTimeouts {
  return { waitMs: 1000 * flagNumber(args, "timeout", DEFAULT_WAIT_S, 0.1, 86_400) };
}

export function faultRate(args: ParsedArgs): number {
  return flagNumber(args, "fault-rate", 0, 0, 0.5);
}

export function faultSeed(args: ParsedArgs): number {
  return flagInt(args, "fault-seed", 1, 0, 2 ** 32 - 1);
}

/** Progress and diagnostics: stderr, always (stdout carries results only). */
export const say = (line: string): void => {
  process.stderr.write(line + "\n");
};
