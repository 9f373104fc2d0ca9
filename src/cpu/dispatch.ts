/**
 * Instruction dispatch for the block loop. Calling handlers through the handler table is
 * a megamorphic call that costs several nanoseconds per instruction; the hottest handlers
 * (chosen from profiles of our benchmark guest and of real-mode code in general) get the
 * fixed ids 0..HOT_HANDLERS.length-1 and are called directly from a switch, where the
 * engine can inline them. Everything else goes through the table.
 *
 * The switch's case k must call HOT_HANDLERS[k]; the opcode table registers HOT_HANDLERS
 * first so that their ids are their positions, and test/unit/cpu/dispatch.test.ts checks
 * both orders agree.
 */
import type { Cpu } from './cpu.js';
import * as alu from './ops/alu.js';
import * as ctl from './ops/control.js';
import * as data from './ops/data.js';
import * as sh from './ops/shift.js';
import * as stk from './ops/stack.js';
import * as sys from './ops/system.js';

/** An instruction handler: executes decoded instruction `i` on CPU `c`. */
export type Handler = (c: Cpu, i: number) => void;

/** Handlers dispatched by the switch, in id order. */
export const HOT_HANDLERS: readonly Handler[] = [
  data.movGwEw, data.movEwGw, data.movGbEb, data.movEbGb, data.movGdEd, data.movEdGd,
  data.movRwIw, data.movRbIb, data.movEbIb, data.movEwIw,
  alu.aluEwGw, alu.aluGwEw, alu.aluEbGb, alu.aluGbEb, alu.aluEwIw, alu.aluEbIb, alu.aluEdGd, alu.aluEdId,
  alu.incDecRw, alu.incDecEw, alu.testEwGw, alu.testEbGb,
  ctl.jccW, ctl.jmpRelW, ctl.loopW, ctl.callRelW, ctl.retW,
  stk.pushRw, stk.popRw, sh.shiftEdIb, sys.nop,
];

/** Run decoded instruction `i` whose handler id is `op`. */
export function dispatch(c: Cpu, i: number, op: number, table: readonly Handler[]): void {
  switch (op) {
    case 0: data.movGwEw(c, i); return;
    case 1: data.movEwGw(c, i); return;
    case 2: data.movGbEb(c, i); return;
    case 3: data.movEbGb(c, i); return;
    case 4: data.movGdEd(c, i); return;
    case 5: data.movEdGd(c, i); return;
    case 6: data.movRwIw(c, i); return;
    case 7: data.movRbIb(c, i); return;
    case 8: data.movEbIb(c, i); return;
    case 9: data.movEwIw(c, i); return;
    case 10: alu.aluEwGw(c, i); return;
    case 11: alu.aluGwEw(c, i); return;
    case 12: alu.aluEbGb(c, i); return;
    case 13: alu.aluGbEb(c, i); return;
    case 14: alu.aluEwIw(c, i); return;
    case 15: alu.aluEbIb(c, i); return;
    case 16: alu.aluEdGd(c, i); return;
    case 17: alu.aluEdId(c, i); return;
    case 18: alu.incDecRw(c, i); return;
    case 19: alu.incDecEw(c, i); return;
    case 20: alu.testEwGw(c, i); return;
    case 21: alu.testEbGb(c, i); return;
    case 22: ctl.jccW(c, i); return;
    case 23: ctl.jmpRelW(c, i); return;
    case 24: ctl.loopW(c, i); return;
    case 25: ctl.callRelW(c, i); return;
    case 26: ctl.retW(c, i); return;
    case 27: stk.pushRw(c, i); return;
    case 28: stk.popRw(c, i); return;
    case 29: sh.shiftEdIb(c, i); return;
    case 30: return; // nop
    default: table[op](c, i);
  }
}
