// Typed readers of parsed flags (see command.ts): each names the flag and the accepted range
// in its InputError, so a bad value is one precise line and exit 2.
import { InputError } from "../input/errors.ts";
import { parseCommandArgs, type FlagSpec, type ParsedArgs } from "./command.ts";

export type { ParsedArgs } from "./command.ts";

/**
 * The flags of one form of a verb whose forms take different flags (`case random --rule decolle`),
 * parsed like every verb's (node:util parseArgs, strict): value flags and boolean flags by name.
 */
export function parseArgs(argv: string[], valueFlags: readonly string[], boolFlags: readonly string[]): ParsedArgs {
  const flags: Record<string, FlagSpec> = {};
  for (const f of valueFlags) flags[f] = { type: "string", description: "" };
  for (const f of boolFlags) flags[f] = { type: "boolean", description: "" };
  return parseCommandArgs({ flags }, argv);
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

export function flagChoice<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) throw new InputError(`--${name}`, `expected one of ${choices.join("|")}, got '${v}'`);
  return v as T;
}

export function flagInt(args: ParsedArgs, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new InputError(`--${name}`, `expected an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

export function flagNumber(args: ParsedArgs, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new InputError(`--${name}`, `expected a number in [${min}, ${max}], got '${v}'`);
  return n;
}
