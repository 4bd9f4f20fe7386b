// A tiny argv parser: `--flag value`, `--flag=value`, boolean `--flag`, and positionals.
// Each command declares which flags take values so `--json CASE.json` is never misread.
import { InputError } from "../input/errors.ts";

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[], valueFlags: readonly string[], boolFlags: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (valueFlags.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new InputError(`--${name}`, "expected a value after the flag");
      flags.set(name, value);
    } else if (boolFlags.includes(name) || name === "debug") {
      flags.set(name, true);
    } else {
      throw new InputError(`--${name}`, `unknown flag; expected one of ${[...valueFlags, ...boolFlags].map((f) => "--" + f).join(", ") || "(none)"}`);
    }
  }
  return { positionals, flags };
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
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`--${name}`, `expected an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

export function flagNumber(args: ParsedArgs, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InputError(`--${name}`, `expected a number in [${min}, ${max}], got '${v}'`);
  return n;
}
