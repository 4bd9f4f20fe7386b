// iCE40 parts `edgeprop hdl report --part` knows, and the memory estimate that refuses a
// config before synthesis when its memories cannot fit.
import { InputError } from "../host/input/errors.ts";
import type { Derived } from "./config.ts";
import { memSpecs } from "./generate/core.ts";

export interface Part {
  name: string;
  nextpnrFlag: string;
  pkg: string;
  lcs: number;
  bram: number; // SB_RAM40_4K (4 Kbit each)
  spram: number; // SB_SPRAM256KA (16K x 16 each)
  dsp: number; // SB_MAC16
}

export const PARTS: Record<string, Part> = {
  up5k: { name: "up5k", nextpnrFlag: "--up5k", pkg: "sg48", lcs: 5280, bram: 30, spram: 4, dsp: 8 },
  up3k: { name: "up3k", nextpnrFlag: "--up3k", pkg: "sg48", lcs: 2800, bram: 20, spram: 0, dsp: 4 },
  hx8k: { name: "hx8k", nextpnrFlag: "--hx8k", pkg: "ct256", lcs: 7680, bram: 32, spram: 0, dsp: 0 },
  hx1k: { name: "hx1k", nextpnrFlag: "--hx1k", pkg: "tq144", lcs: 1280, bram: 16, spram: 0, dsp: 0 },
};

export function partByName(name: string): Part {
  const p = PARTS[name];
  if (!p) throw new InputError("--part", `expected one of ${Object.keys(PARTS).join(", ")}, got '${name}'`);
  return p;
}

/** SB_RAM40_4K blocks for a depth x width memory (best of the 256x16 .. 2048x2 shapes). */
export function bramBlocks(depth: number, width: number): number {
  const shapes: [number, number][] = [[16, 256], [8, 512], [4, 1024], [2, 2048]];
  return Math.min(...shapes.map(([w, d]) => Math.ceil(width / w) * Math.ceil(depth / d)));
}

export function spramBlocks(depth: number, width: number): number {
  return Math.ceil(width / 16) * Math.ceil(depth / 16384);
}

export interface MemEstimate {
  bram: number;
  spram: number;
  /** Per memory: name -> blocks and kind. */
  detail: { name: string; kind: "bram" | "spram"; blocks: number; depth: number; width: number }[];
}

export function estimateMemory(d: Derived): MemEstimate {
  const detail = memSpecs(d).map((m) => ({
    name: m.name,
    kind: m.style,
    depth: m.depth,
    width: m.width,
    blocks: m.style === "spram" ? spramBlocks(m.depth, m.width) : bramBlocks(m.depth, m.width),
  }));
  const sum = (k: "bram" | "spram") => detail.filter((x) => x.kind === k).reduce((s, x) => s + x.blocks, 0);
  return { bram: sum("bram"), spram: sum("spram"), detail };
}

/** Refuses (InputError naming the field and the limit) a config whose memories do not fit. */
export function checkFit(d: Derived, part: Part): MemEstimate {
  const est = estimateMemory(d);
  const c = d.cfg;
  const list = (k: "bram" | "spram") => est.detail.filter((x) => x.kind === k).map((x) => `${x.name} ${x.depth}x${x.width}: ${x.blocks}`).join(", ");
  const size = `nIn=${c.nIn} x nRec=${c.nRec}${c.recurrent ? " + recurrent" : ""} = ${d.nSyn} synapses, mode ${c.mode}`;
  if (c.memory === "spram" && part.spram === 0) throw new InputError("memory", `'spram' but ${part.name} has no SPRAM; use 'bram'`);
  if (est.spram > part.spram) {
    throw new InputError("nRec", `${size} needs ${est.spram} SPRAM blocks (${list("spram")}) but ${part.name} has ${part.spram} (16K x 16 each); reduce nIn/nRec, the widths, or use mode 'online'`);
  }
  if (est.bram > part.bram) {
    throw new InputError("nRec", `${size} needs ${est.bram} BRAM blocks (${list("bram")}) but ${part.name} has ${part.bram} (4 Kbit each)${part.spram ? "; use memory 'spram'" : ""}`);
  }
  return est;
}

/** Clock cycles of one STEP and one LEARN command (FSM schedule in fpga/generate/core.ts). */
export function cyclesPerStep(d: Derived): { step: number; learn: number } {
  const { nPre } = d;
  const nRec = d.cfg.nRec;
  const step = 1 + 2 * nPre + nRec * (nPre + 5);
  const learn = 1 + nRec * (2 * nPre + (d.cfg.mode === "filtered" ? 4 : 5));
  return { step, learn };
}
