// The registry of CLI verbs. Adding a verb = adding its file and one line here.
import type { Command } from "../command.ts";
import { gradCommand } from "./grad.ts";
import { caseCommand } from "./case.ts";
import { demoCommand } from "./demo.ts";
import { benchCommand } from "./bench.ts";
import { reportCommand } from "./report.ts";
import { trainCommand } from "./train.ts";
import { boardsCommand } from "./boards.ts";
import { buildCommand } from "./build.ts";
import { flashCommand } from "./flash.ts";
import { hdlCommand } from "./hdl.ts";
import { simCommand } from "./sim.ts";
import { faultProxyCommand } from "./fault-proxy.ts";
import { monitorCommand } from "./monitor.ts";
import { resultsCommand } from "./results.ts";
import { portsCommand } from "./ports.ts";

export const commands: Command[] = [
  demoCommand,
  gradCommand,
  trainCommand,
  caseCommand,
  benchCommand,
  reportCommand,
  boardsCommand,
  portsCommand,
  buildCommand,
  flashCommand,
  simCommand,
  monitorCommand,
  faultProxyCommand,
  hdlCommand,
  resultsCommand,
];
