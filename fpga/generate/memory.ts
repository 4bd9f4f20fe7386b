// Memory modules of the core: one synchronous single-port RAM per array (write-first port,
// registered read data one cycle after the address). `bram` infers SB_RAM40_4K through yosys;
// `spram` instantiates SB_SPRAM256KA (16K x 16) itself, because yosys 0.23 does not map a
// read-modify-write memory to SPRAM on its own. SPRAM cannot be initialised: the host loads
// weights over the bus and CLEAR zeroes the rest.
import { clog2 } from "../fixed.ts";

export interface MemSpec {
  name: string; // w, e, a, v, psi, l, pre
  depth: number;
  width: number;
  style: "bram" | "spram";
  init: string; // $readmemh file (bram only)
}

export function memAddrBits(depth: number): number {
  return Math.max(1, clog2(depth));
}

export function memModule(m: MemSpec): string {
  const aw = memAddrBits(m.depth);
  const head = [
    `module edgeprop_mem_${m.name} (`,
    `  input wire clk,`,
    `  input wire [${aw - 1}:0] addr,`,
    `  input wire we,`,
    `  input wire [${m.width - 1}:0] wd,`,
    `  output ${m.style === "bram" ? "reg" : "wire"} [${m.width - 1}:0] rd`,
    `);`,
  ];
  if (m.style === "bram") {
    return [
      ...head,
      `  reg [${m.width - 1}:0] mem [0:${m.depth - 1}];`,
      `  initial $readmemh("${m.init}", mem);`,
      `  always @(posedge clk) begin`,
      `    if (we) mem[addr] <= wd;`,
      `    rd <= mem[addr];`,
      `  end`,
      `endmodule`,
      ``,
    ].join("\n");
  }
  const banks = Math.ceil(m.depth / 16384);
  const lanes = Math.ceil(m.width / 16);
  const bankBits = clog2(banks);
  const lines = [...head];
  const padW = lanes * 16;
  lines.push(`  wire [${padW - 1}:0] wd_pad = ${padW === m.width ? "wd" : `{${padW - m.width}'d0, wd}`};`);
  const a14 = aw >= 14 ? `addr[13:0]` : `{${14 - aw}'d0, addr}`;
  lines.push(`  wire [13:0] a14 = ${a14};`);
  if (bankBits > 0) {
    lines.push(`  wire [${bankBits - 1}:0] bank = addr[${aw - 1}:14];`);
    lines.push(`  reg [${bankBits - 1}:0] bank_q = ${bankBits}'d0;`);
    lines.push(`  always @(posedge clk) bank_q <= bank;`);
  }
  for (let b = 0; b < banks; b++) {
    lines.push(`  wire [${padW - 1}:0] dout${b};`);
    const sel = bankBits > 0 ? `(bank == ${bankBits}'d${b})` : `1'b1`;
    for (let l = 0; l < lanes; l++) {
      lines.push(
        `  SB_SPRAM256KA spram_b${b}_l${l} (.ADDRESS(a14), .DATAIN(wd_pad[${16 * l + 15}:${16 * l}]), .MASKWREN(4'b1111), ` +
          `.WREN(we & ${sel}), .CHIPSELECT(1'b1), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0), .POWEROFF(1'b1), .DATAOUT(dout${b}[${16 * l + 15}:${16 * l}]));`,
      );
    }
  }
  let out = `dout0`;
  for (let b = 1; b < banks; b++) out = `(bank_q == ${bankBits}'d${b}) ? dout${b} : ${out}`;
  lines.push(`  wire [${padW - 1}:0] dsel = ${out};`);
  lines.push(`  assign rd = dsel[${m.width - 1}:0];`);
  if (padW > m.width) lines.push(`  wire _unused_ok = &{1'b0, dsel[${padW - 1}:${m.width}], 1'b0};`);
  lines.push(`endmodule`, ``);
  return lines.join("\n");
}
