// Entry point of the `edgeprop` CLI: dispatches to a verb, prints help and version, and turns
// errors into exit codes: 0 done, 1 a bug or a failed operation, 2 bad input (one line naming
// the field), 3 a missing tool (naming its Debian package), 4 no board answered within
// --timeout, 130 interrupted (Ctrl-C). Results go to stdout, progress and diagnostics to stderr;
// a closed stdout (`edgeprop train --json | head -1`) ends the run quietly.
import { readFileSync } from "node:fs";
import { commands } from "./commands/index.ts";
import { InputError, MissingToolError } from "../input/errors.ts";
import { BoardTimeoutError } from "../link/connect-board.ts";
import { repoPath } from "../paths.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: edgeprop <command> [options]     edgeprop <command> --help     edgeprop --version",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Every command takes --help (description, every flag with its default, examples) and --debug",
    "(stack traces); every command that prints results takes --json.",
  ].join("\n");
}

function version(): string {
  const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version: string };
  return pkg.version;
}

// The reader of stdout went away (a pipe into `head`): stop quietly, as Unix tools do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
process.stderr.on("error", () => {});

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === "--version" || verb === "-V" || verb === "version") {
    process.stdout.write(`edgeprop ${version()}\n`);
    return 0;
  }
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    const about = verb === "help" && rest[0] !== undefined ? commands.find((c) => c.name === rest[0]) : undefined;
    if (verb === "help" && rest[0] !== undefined && !about) {
      process.stderr.write(`edgeprop: unknown command '${rest[0]}'\n${usage()}\n`);
      return 2;
    }
    (verb === undefined ? process.stderr : process.stdout).write((about ? about.help() : usage()) + "\n");
    return verb === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === verb);
  if (!command) {
    process.stderr.write(`edgeprop: unknown command '${verb}'\n${usage()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.help() + "\n");
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (argv.includes("--debug")) throw err;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`edgeprop ${verb}: ${message}\n`);
    if (err instanceof InputError) return 2;
    if (err instanceof MissingToolError) return 3;
    if (err instanceof BoardTimeoutError) return 4;
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
