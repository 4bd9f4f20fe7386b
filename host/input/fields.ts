// Field readers for JSON input: each names the offending field and the expected value in its
// InputError, so a bad case file is answered with one precise line, never a crash.
import { readFileSync, statSync } from "node:fs";
import { memoryLimitBytes } from "../model/memory.ts";
import { InputError } from "./errors.ts";

export type Json = unknown;

function describe(x: Json): string {
  if (x === undefined) return "nothing (the field is missing)";
  if (typeof x === "string") return `'${x.length > 20 ? x.slice(0, 20) + "…" : x}'`;
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (x === null) return "null";
  if (typeof x === "object") return "an object";
  return String(x);
}

export function obj(x: Json, field: string): Record<string, Json> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new InputError(field, `expected an object, got ${describe(x)}`);
  return x as Record<string, Json>;
}

/** Parsed JSON marks bare NaN/Infinity tokens with these strings (see parseJsonLenient). */
const NON_FINITE = new Map<string, string>([
  ["\u0000NaN", "NaN"],
  ["\u0000Infinity", "Infinity"],
  ["\u0000-Infinity", "-Infinity"],
]);

export function finite(x: Json, field: string): number {
  if (typeof x === "number" && Number.isFinite(x)) return x;
  const marked = typeof x === "string" ? NON_FINITE.get(x) : undefined;
  throw new InputError(field, `expected a finite number, got ${marked ?? describe(x)}`);
}

export function positive(x: Json, field: string): number {
  const n = finite(x, field);
  if (n <= 0) throw new InputError(field, `expected a number > 0, got ${n}`);
  return n;
}

export function intIn(x: Json, field: string, min: number, max: number): number {
  const n = finite(x, field);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(field, `expected an integer in [${min}, ${max}], got ${n}`);
  return n;
}

export function text(x: Json, field: string): string {
  if (typeof x !== "string" || x.length === 0) throw new InputError(field, `expected a non-empty string, got ${describe(x)}`);
  return x;
}

export function numberIn(x: Json, field: string, min: number, max: number): number {
  const n = finite(x, field);
  if (n < min || n > max) throw new InputError(field, `expected a number in [${min}, ${max}], got ${n}`);
  return n;
}

export function choice<T extends string>(x: Json, field: string, choices: readonly T[]): T {
  if (typeof x !== "string" || !(choices as readonly string[]).includes(x)) {
    throw new InputError(field, `expected one of ${choices.map((c) => `'${c}'`).join(", ")}, got ${describe(x)}`);
  }
  return x as T;
}

export function bool(x: Json, field: string): boolean {
  if (typeof x !== "boolean") throw new InputError(field, `expected true or false, got ${describe(x)}`);
  return x;
}

export function vector(x: Json, field: string, length: number): number[] {
  if (!Array.isArray(x) || x.length !== length) throw new InputError(field, `expected an array of ${length} numbers, got ${describe(x)}`);
  return x.map((v, i) => finite(v, `${field}[${i}]`));
}

export function matrix(x: Json, field: string, rows: number, cols: number, rowsName: string, colsName: string): number[][] {
  if (!Array.isArray(x) || x.length !== rows) {
    throw new InputError(field, `expected ${rows} rows (${rowsName}) of ${cols} (${colsName}), got ${describe(x)}`);
  }
  return x.map((row, r) => {
    if (!Array.isArray(row) || row.length !== cols) {
      throw new InputError(`${field}[${r}]`, `expected ${cols} numbers (${colsName}), got ${describe(row)}`);
    }
    return row.map((v, c) => finite(v, `${field}[${r}][${c}]`));
  });
}

/**
 * JSON.parse that also accepts bare NaN / Infinity / -Infinity (as numpy's json writes them),
 * replacing them by marker strings, so validation can name the field that holds them.
 */
export function parseJsonLenient(text: string, source: string): Json {
  try {
    return JSON.parse(text);
  } catch (err) {
    // Replace the bare tokens outside strings only; strings are copied verbatim.
    const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (tok) => (tok.startsWith('"') ? tok : `"\\u0000${tok}"`));
    try {
      return JSON.parse(marked);
    } catch {
      throw new InputError(source, `not valid JSON (${(err as Error).message})`);
    }
  }
}

/** Reads a JSON input file; a missing, unreadable or oversized file is an InputError naming the path. */
export function readJsonFile(path: string): Json {
  let text: string;
  try {
    // The parsed document takes at least as much memory as its text: refuse before reading.
    const max = memoryLimitBytes() / 4;
    const size = statSync(path).size;
    if (size > max) throw new InputError(path, `file of ${(size / 2 ** 20).toFixed(0)} MiB is over the input limit of ${max / 2 ** 20} MiB (a quarter of the host memory limit)`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(path, code === "ENOENT" ? "no such file" : `cannot read (${code ?? (err as Error).message})`);
  }
  return parseJsonLenient(text, path);
}
