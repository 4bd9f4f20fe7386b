// A CLI verb: short name, one-line summary, usage, and a run function that returns an exit code.
// Every verb accepts `--json` where it prints results (probe-rs style predictable verbs).

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}
