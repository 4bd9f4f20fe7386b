// Ctrl-C for long verbs: the first one asks the verb to stop at a safe point (after the current
// iteration, with its checkpoint on disk) and say where it stopped and how to resume; a second
// one exits at once (boards and socat die with the host: host/process/tied.ts).
export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

export function onInterrupt(say: (line: string) => void, what: string): Interrupt {
  const ac = new AbortController();
  const handler = () => {
    if (ac.signal.aborted) {
      say("interrupted again: exiting now");
      process.exit(130);
    }
    say(`interrupt: stopping after ${what} (Ctrl-C again to quit at once)`);
    ac.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: ac.signal,
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
