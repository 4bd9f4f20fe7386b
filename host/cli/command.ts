// A CLI verb is declared as data — name, summary, usage, description, every flag with its
// default, examples — and a main(args). `--help` is generated from the declaration (so it
// cannot drift from what the verb parses), and argv is parsed by node:util's parseArgs.
// Every verb that prints results accepts `--json` (probe-rs style predictable verbs).
import { parseArgs as nodeParseArgs } from "node:util";
import { InputError } from "../input/errors.ts";

export interface FlagSpec {
  /** `string` flags take a value (`--out DIR`, `--out=DIR`); `boolean` flags do not. */
  type: "string" | "boolean";
  /** Placeholder for the value in --help (`DIR`, `N`, `PATH`). */
  value?: string;
  /** The default as the user sees it in --help ("off" for booleans unless given). */
  default?: string;
  description: string;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
  /** The verb's argv as given (for messages that repeat the command, e.g. how to resume). */
  argv: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** One line, shown in `edgeprop --help`. */
  summary: string;
  /** What follows `edgeprop NAME` in the usage line (positionals, the essential flags). */
  usage: string;
  /** A paragraph or two for `edgeprop NAME --help`. */
  description?: string;
  flags: Record<string, FlagSpec>;
  examples: string[];
  main(args: ParsedArgs): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  help(): string;
  /** Parses argv (InputError on an unknown flag or a missing value) and runs the verb. */
  run(argv: string[]): Promise<number>;
}

/** Flags every verb takes. */
const COMMON: Record<string, FlagSpec> = {
  help: { type: "boolean", description: "show this help and exit" },
  debug: { type: "boolean", description: "print stack traces of errors" },
};

export function parseCommandArgs(spec: Pick<CommandSpec, "flags">, argv: string[]): ParsedArgs {
  const all = { ...spec.flags, ...COMMON };
  const options = Object.fromEntries(Object.entries(all).map(([k, f]) => [k, { type: f.type, ...(k === "help" ? { short: "h" } : {}) }]));
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as { code?: string; message: string };
    const m = /'(-[^' ]+)/.exec(e.message);
    const flag = m?.[1] ?? "argv";
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new InputError(flag, `unknown flag; expected one of ${Object.keys(spec.flags).map((f) => "--" + f).join(", ") || "(none)"} (see --help)`);
    }
    if (/does not take an argument/.test(e.message)) throw new InputError(flag, "takes no value");
    if (/argument missing|ambiguous/.test(e.message)) {
      throw new InputError(flag.replace(/ <value>$/, ""), `expected a value after the flag (write ${flag.split(" ")[0]}=VALUE for a value that starts with '-')`);
    }
    throw new InputError(flag, e.message.split("\n")[0]!);
  }
  const flags = new Map<string, string | true>();
  for (const [k, v] of Object.entries(parsed.values)) {
    if (typeof v === "string") flags.set(k, v);
    else if (v === true) flags.set(k, true);
  }
  return { positionals: parsed.positionals, flags, argv };
}

function helpText(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.flags, ...COMMON }).map(([name, f]) => {
    const head = `${name === "help" ? "-h, " : "    "}--${name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    const dflt = f.default ?? (f.type === "boolean" ? "off" : "none");
    return [head, `${f.description} (default: ${dflt})`] as const;
  });
  const width = Math.min(34, Math.max(...rows.map((r) => r[0].length)) + 2);
  return [
    `edgeprop ${spec.name} — ${spec.summary}`,
    "",
    `usage: edgeprop ${spec.name} ${spec.usage}`.trimEnd(),
    ...(spec.description ? ["", spec.description] : []),
    "",
    "options:",
    ...rows.map(([h, d]) => `  ${h.padEnd(width)}${h.length + 2 > width ? "\n  " + " ".repeat(width) : ""}${d}`),
    "",
    "examples:",
    ...spec.examples.map((e) => `  ${e}`),
  ].join("\n");
}

export function defineCommand(spec: CommandSpec): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    help: () => helpText(spec),
    run: (argv) => spec.main(parseCommandArgs(spec, argv)),
  };
}
