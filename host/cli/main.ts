// Entry point of the `edgeprop` CLI: dispatches to a verb and turns errors into exit codes.
import { commands } from "./commands/index.ts";
import { InputError, MissingToolError } from "../input/errors.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: edgeprop <command> [options]   (--debug shows stack traces)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(usage() + "\n");
    return verb === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === verb);
  if (!command) {
    process.stderr.write(`edgeprop: unknown command '${verb}'\n${usage()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (argv.includes("--debug")) throw err;
    if (err instanceof InputError) {
      process.stderr.write(`edgeprop ${verb}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof MissingToolError) {
      process.stderr.write(`edgeprop ${verb}: ${err.message}\n`);
      return 3;
    }
    process.stderr.write(`edgeprop ${verb}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
