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
import { aluEbGb, aluEbIb, aluEdGd, aluEdId, aluEwGw, aluEwIw, aluGbEb, aluGwEw, incDecEw, incDecRw, testEbGb, testEwGw } from './ops/alu.js';
import { callRelW, jccW, jmpRelW, loopW, retW } from './ops/control.js';
import { movEbGb, movEbIb, movEdGd, movEwGw, movEwIw, movGbEb, movGdEd, movGwEw, movRbIb, movRwIw } from './ops/data.js';
import { shiftEdIb } from './ops/shift.js';
import { popRw, pushRw } from './ops/stack.js';
import { nop } from './ops/system.js';

/** An instruction handler: executes decoded instruction `i` on CPU `c`. */
export type Handler = (c: Cpu, i: number) => void;

/** Handlers dispatched by the switch, in id order. */
export const HOT_HANDLERS: readonly Handler[] = [
  movGwEw, movEwGw, movGbEb, movEbGb, movGdEd, movEdGd,
  movRwIw, movRbIb, movEbIb, movEwIw,
  aluEwGw, aluGwEw, aluEbGb, aluGbEb, aluEwIw, aluEbIb, aluEdGd, aluEdId,
  incDecRw, incDecEw, testEwGw, testEbGb,
  jccW, jmpRelW, loopW, callRelW, retW,
  pushRw, popRw, shiftEdIb, nop,
];

/** Run decoded instruction `i` whose handler id is `op`. */
export function dispatch(c: Cpu, i: number, op: number, table: readonly Handler[]): void {
  switch (op) {
    case 0: movGwEw(c, i); return;
    case 1: movEwGw(c, i); return;
    case 2: movGbEb(c, i); return;
    case 3: movEbGb(c, i); return;
    case 4: movGdEd(c, i); return;
    case 5: movEdGd(c, i); return;
    case 6: movRwIw(c, i); return;
    case 7: movRbIb(c, i); return;
    case 8: movEbIb(c, i); return;
    case 9: movEwIw(c, i); return;
    case 10: aluEwGw(c, i); return;
    case 11: aluGwEw(c, i); return;
    case 12: aluEbGb(c, i); return;
    case 13: aluGbEb(c, i); return;
    case 14: aluEwIw(c, i); return;
    case 15: aluEbIb(c, i); return;
    case 16: aluEdGd(c, i); return;
    case 17: aluEdId(c, i); return;
    case 18: incDecRw(c, i); return;
    case 19: incDecEw(c, i); return;
    case 20: testEwGw(c, i); return;
    case 21: testEbGb(c, i); return;
    case 22: jccW(c, i); return;
    case 23: jmpRelW(c, i); return;
    case 24: loopW(c, i); return;
    case 25: callRelW(c, i); return;
    case 26: retW(c, i); return;
    case 27: pushRw(c, i); return;
    case 28: popRw(c, i); return;
    case 29: shiftEdIb(c, i); return;
    case 30: return; // nop
    default: table[op](c, i);
  }
}
