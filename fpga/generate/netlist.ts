// A tiny builder for width-clean Verilog datapaths: every intermediate is a declared wire of
// exactly the width it needs, operands are extended explicitly, so `verilator -Wall` is quiet.
// Signals are plain unsigned vectors; signedness lives in the operations (`$signed` in *, <).

export interface Sig {
  name: string;
  width: number;
}

export class Netlist {
  readonly lines: string[] = [];
  /** Bit ranges deliberately dropped (rounding remainders), tied off so lint stays quiet. */
  readonly dropped: string[] = [];
  private n = 0;
  constructor(private readonly prefix: string) {}

  wire(width: number, expr: string, hint = "t"): Sig {
    const name = `${this.prefix}_${hint}${this.n++}`;
    this.lines.push(`  wire [${width - 1}:0] ${name} = ${expr};`);
    return { name, width };
  }

  /** Sign-extend (expression text) to `to` bits. */
  static sx(s: Sig, to: number): string {
    if (to < s.width) throw new Error(`sx: ${s.name} is ${s.width} bits, cannot extend to ${to}`);
    return to === s.width ? s.name : `{{${to - s.width}{${s.name}[${s.width - 1}]}}, ${s.name}}`;
  }

  /** Zero-extend (expression text) to `to` bits. */
  static zx(s: Sig, to: number): string {
    if (to < s.width) throw new Error(`zx: ${s.name} is ${s.width} bits, cannot extend to ${to}`);
    return to === s.width ? s.name : `{${to - s.width}'d0, ${s.name}}`;
  }

  mulSS(a: Sig, b: Sig, hint = "m"): Sig {
    const p = a.width + b.width;
    return this.wire(p, `$signed(${Netlist.sx(a, p)}) * $signed(${Netlist.sx(b, p)})`, hint);
  }
  mulUU(a: Sig, b: Sig, hint = "m"): Sig {
    const p = a.width + b.width;
    return this.wire(p, `${Netlist.zx(a, p)} * ${Netlist.zx(b, p)}`, hint);
  }
  /** Signed a times unsigned b. */
  mulSU(a: Sig, b: Sig, hint = "m"): Sig {
    const p = a.width + b.width + 1;
    return this.wire(p, `$signed(${Netlist.sx(a, p)}) * $signed(${Netlist.zx(b, p)})`, hint);
  }

  addS(a: Sig, b: Sig, hint = "s"): Sig {
    const w = Math.max(a.width, b.width) + 1;
    return this.wire(w, `${Netlist.sx(a, w)} + ${Netlist.sx(b, w)}`, hint);
  }
  subS(a: Sig, b: Sig, hint = "s"): Sig {
    const w = Math.max(a.width, b.width) + 1;
    return this.wire(w, `${Netlist.sx(a, w)} - ${Netlist.sx(b, w)}`, hint);
  }
  addU(a: Sig, b: Sig, hint = "s"): Sig {
    const w = Math.max(a.width, b.width) + 1;
    return this.wire(w, `${Netlist.zx(a, w)} + ${Netlist.zx(b, w)}`, hint);
  }

  /** Round-half-up arithmetic shift right of a signed value (fixed.ts rshr). */
  rshrS(x: Sig, s: number, hint = "r"): Sig {
    if (s === 0) return x;
    if (s > x.width) throw new Error(`rshrS: shift ${s} exceeds width ${x.width} of ${x.name}`);
    const w = x.width + 1;
    const r = this.wire(w, `${Netlist.sx(x, w)} + ${w}'h${(2 ** (s - 1)).toString(16)}`, hint);
    this.dropped.push(`${r.name}[${s - 1}:0]`);
    return this.wire(w - s, `${r.name}[${w - 1}:${s}]`, hint);
  }
  /** Round-half-up shift right of an unsigned value. */
  rshrU(x: Sig, s: number, hint = "r"): Sig {
    if (s === 0) return x;
    if (s > x.width) throw new Error(`rshrU: shift ${s} exceeds width ${x.width} of ${x.name}`);
    const w = x.width + 1;
    const r = this.wire(w, `${Netlist.zx(x, w)} + ${w}'h${(2 ** (s - 1)).toString(16)}`, hint);
    this.dropped.push(`${r.name}[${s - 1}:0]`);
    return this.wire(w - s, `${r.name}[${w - 1}:${s}]`, hint);
  }

  /** Saturate a signed value to `to` bits (fixed.ts satS). */
  satS(x: Sig, to: number, hint = "q"): Sig {
    if (x.width <= to) return this.wire(to, Netlist.sx(x, to), hint);
    const k = x.width - to + 1;
    const hi = `${x.name}[${x.width - 1}:${to - 1}]`;
    return this.wire(
      to,
      `((${hi} == {${k}{1'b0}}) || (${hi} == {${k}{1'b1}})) ? ${x.name}[${to - 1}:0] : (${x.name}[${x.width - 1}] ? {1'b1, {${to - 1}{1'b0}}} : {1'b0, {${to - 1}{1'b1}}})`,
      hint,
    );
  }
  /** Saturate a non-negative value held as signed x (top bit = sign) to unsigned `to` bits. */
  satUfromS(x: Sig, to: number, hint = "q"): Sig {
    if (x.width - 1 <= to) return this.wire(to, `${x.name}[${x.width - 1}] ? ${to}'d0 : ${Netlist.zx({ name: `${x.name}[${x.width - 2}:0]`, width: x.width - 1 }, to)}`, hint);
    const k = x.width - to;
    return this.wire(to, `${x.name}[${x.width - 1}] ? ${to}'d0 : ((${x.name}[${x.width - 1}:${to}] == ${k}'d0) ? ${x.name}[${to - 1}:0] : {${to}{1'b1}})`, hint);
  }
  /** Saturate an unsigned value to `to` bits (fixed.ts satU). */
  satU(x: Sig, to: number, hint = "q"): Sig {
    if (x.width <= to) return this.wire(to, Netlist.zx(x, to), hint);
    const k = x.width - to;
    return this.wire(to, `(${x.name}[${x.width - 1}:${to}] == ${k}'d0) ? ${x.name}[${to - 1}:0] : {${to}{1'b1}}`, hint);
  }
}

/** A lint tie-off for bits that are unused on purpose (verilator ignores `*unused*`). */
export function tieOff(name: string, bits: string[]): string {
  return bits.length ? `  wire ${name} = &{1'b0, ${bits.join(", ")}, 1'b0};` : "";
}

export function sig(name: string, width: number): Sig {
  return { name, width };
}
