// Headless Debian `chromium` driven directly through child_process (no npm dependency): dump
// the DOM after the page's scripts ran, or take a PNG screenshot. Used by `edgeprop report
// --check` and by tests/report.test.ts.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { missingTool } from "../toolchains.ts";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export function findChromium(): string {
  const env = process.env.EDGEPROP_CHROMIUM;
  if (env && existsSync(env)) return env;
  const hit = CANDIDATES.find((p) => existsSync(p));
  if (!hit) throw missingTool("chromium");
  return hit;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${bin} failed: ${err.message}\n${String(stderr).split("\n").slice(-5).join("\n")}`));
      else res(String(stdout));
    });
  });
}

function baseArgs(profile: string): string[] {
  return [
    "--headless",
    "--no-sandbox", // running as root in CI containers
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    `--user-data-dir=${profile}`,
    "--virtual-time-budget=5000", // let every script and layout finish before dumping
  ];
}

async function withProfile<T>(f: (profile: string) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), "edgeprop-chromium-"));
  try {
    return await f(profile);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The serialised DOM of an HTML file after its scripts ran. */
export function dumpDom(htmlFile: string, timeoutMs = 60_000): Promise<string> {
  const bin = findChromium();
  return withProfile((profile) => run(bin, [...baseArgs(profile), "--dump-dom", pathToFileURL(resolve(htmlFile)).href], timeoutMs));
}

/** A PNG screenshot (bytes) of an HTML file. */
export function screenshot(htmlFile: string, width = 1000, height = 1600, timeoutMs = 60_000): Promise<Buffer> {
  const bin = findChromium();
  return withProfile(async (profile) => {
    const png = join(profile, "shot.png");
    await run(bin, [...baseArgs(profile), `--window-size=${width},${height}`, "--hide-scrollbars", `--screenshot=${png}`, pathToFileURL(resolve(htmlFile)).href], timeoutMs);
    if (!existsSync(png)) throw new Error("chromium wrote no screenshot");
    return readFileSync(png);
  });
}

export interface ChartCheck {
  name: string;
  rendered: boolean;
  marks: number;
  error?: string;
}

/** Parse the <figure class="chart"> elements of a dumped DOM: which rendered, with how many marks. */
export function chartsInDom(dom: string): ChartCheck[] {
  const out: ChartCheck[] = [];
  const re = /<figure\b([^>]*)>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(dom))) {
    const attrs = m[1]!;
    if (!/class="chart"/.test(attrs)) continue;
    const get = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(attrs)?.[1];
    out.push({
      name: get("data-chart") ?? "?",
      rendered: get("data-rendered") === "true",
      marks: Number(get("data-marks") ?? 0),
      error: get("data-error"),
    });
  }
  return out;
}
