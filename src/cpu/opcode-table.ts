/**
 * The declarative opcode table: for every one-byte opcode and every 0F-prefixed opcode,
 * which handler runs it (per operand size), whether a ModRM byte follows, the immediate
 * format, how the ModRM.reg and r/m fields name registers, the fixed sub-operation, and
 * whether it ends a basic block or accepts LOCK. Group opcodes (80-83, C0/C1, D0-D3,
 * F6/F7, FE/FF, 8F, C6/C7, 0F 00/01/BA) hold eight entries selected by ModRM.reg.
 *
 * Handlers are registered here and referred to by a small integer id (the `op` field of
 * a decoded instruction); `HANDLERS[id]` is the function. Mnemonics are kept for
 * diagnostics.
 */
import { Seg } from './decoded.js';
import { BitOp } from './ops/bits.js';
import { HOT_HANDLERS, type Handler } from './dispatch.js';
import * as alu from './ops/alu.js';
import * as bcd from './ops/bcd.js';
import * as bits from './ops/bits.js';
import * as ctl from './ops/control.js';
import * as data from './ops/data.js';
import * as md from './ops/muldiv.js';
import * as pm from './ops/protected.js';
import * as model from './ops/model.js';
import * as sh from './ops/shift.js';
import * as stk from './ops/stack.js';
import * as str from './ops/string.js';
import * as sys from './ops/system.js';
import * as x87 from './ops/x87.js';

export type { Handler } from './dispatch.js';

/** How a register field is turned into a register-view index. */
export const K_NONE = 0, K_R8 = 1, K_RV = 2, K_R16 = 3, K_R32 = 4, K_RAW = 5;

/** Immediate formats. */
export const IMM_NONE = 0;
export const IMM_IB = 1; // imm8 sign-extended
export const IMM_IBU = 2; // imm8 zero-extended
export const IMM_IW = 3; // imm16
export const IMM_IV = 4; // imm16 or imm32 by operand size
export const IMM_JB = 5; // rel8
export const IMM_JV = 6; // rel16 or rel32 by operand size
export const IMM_AP = 7; // far pointer: offset (16/32) then selector
export const IMM_MOFFS = 8; // memory offset (16/32 by address size)
export const IMM_ENTER = 9; // imm16, imm8

/** One opcode's decoding recipe. */
export interface OpcodeEntry {
  readonly name: string;
  readonly h16: number;
  readonly h32: number;
  readonly modrm: boolean;
  readonly imm: number;
  readonly regKind: number;
  readonly rmKind: number;
  /** Fixed `sub` value, or -1 for ModRM.reg. */
  readonly sub: number;
  readonly ends: boolean;
  readonly lockable: boolean;
  /** The register is the low three bits of the opcode (40-5F, 90-97, B0-BF, 0F C8-CF). */
  readonly embedded: boolean;
  /** The r/m operand is the accumulator (AL/AX/EAX) rather than a ModRM operand. */
  readonly accumulator: boolean;
  /** Register number forced into `reg` (moffs forms use the accumulator). */
  readonly fixedReg: number;
  /** A string instruction: with a REP prefix it ends its block (it may restart itself). */
  readonly string: boolean;
  /** The instruction writes its memory operand (decoded with the segment's write view). */
  readonly writes: boolean;
  /** The whole ModRM byte goes to `Ins.Imm` (x87 escapes: register forms and FOP need it). */
  readonly modrmInImm: boolean;
  readonly group: readonly OpcodeEntry[] | null;
}

/** Handler functions by id. */
export const HANDLERS: Handler[] = [];
/** Handler names by id (diagnostics). */
export const HANDLER_NAMES: string[] = [];
const handlerIds = new Map<Handler, number>();
// The switch-dispatched handlers take ids 0..HOT_HANDLERS.length-1 (see dispatch.ts).
for (const h of HOT_HANDLERS) handlerId(h);

function handlerId(fn: Handler): number {
  let id = handlerIds.get(fn);
  if (id === undefined) {
    id = HANDLERS.length;
    HANDLERS.push(fn);
    HANDLER_NAMES.push(fn.name);
    handlerIds.set(fn, id);
  }
  return id;
}

interface EntryOptions {
  modrm?: boolean; imm?: number; reg?: number; rm?: number; sub?: number; ends?: boolean;
  lock?: boolean; embedded?: boolean; acc?: boolean; fixedReg?: number; string?: boolean; modrmInImm?: boolean;
  /** Writes its r/m (or moffs) memory operand. */
  w?: boolean;
}

/** Build an entry; `h` is one handler or a [16-bit, 32-bit] pair. */
function op(name: string, h: Handler | readonly [Handler, Handler], o: EntryOptions = {}): OpcodeEntry {
  const [h16, h32] = typeof h === 'function' ? [h, h] : h;
  return {
    name, h16: handlerId(h16), h32: handlerId(h32), modrm: o.modrm ?? false, imm: o.imm ?? IMM_NONE,
    regKind: o.reg ?? K_NONE, rmKind: o.rm ?? K_NONE, sub: o.sub ?? -1, ends: o.ends ?? false,
    lockable: o.lock ?? false, embedded: o.embedded ?? false, accumulator: o.acc ?? false,
    fixedReg: o.fixedReg ?? -1, string: o.string ?? false, modrmInImm: o.modrmInImm ?? false, writes: o.w ?? false, group: null,
  };
}

function group(name: string, members: readonly OpcodeEntry[]): OpcodeEntry {
  return { ...op(name, sys.undefinedOpcode, { modrm: true }), group: members };
}

/** The invalid-opcode entry. */
export const UNDEFINED = op('(bad)', sys.undefinedOpcode);
/** Entry for an over-long instruction (#GP). */
export const TOO_LONG = op('(too long)', sys.tooLong);

const EB_GB = { modrm: true, reg: K_R8, rm: K_R8 };
const EV_GV = { modrm: true, reg: K_RV, rm: K_RV };
const EB = { modrm: true, rm: K_R8 };
const EV = { modrm: true, rm: K_RV };
/** A 16-bit r/m operand whatever the operand size (selectors, LMSW). */
const EW = { modrm: true, rm: K_R16 };
const STRING = { string: true };

/** x87 escapes D8-DF: one handler per escape byte (ops/x87.ts), ModRM kept whole, each ends its block. */
const X87_ESCAPES: readonly Handler[] = [x87.escD8, x87.escD9, x87.escDA, x87.escDB, x87.escDC, x87.escDD, x87.escDE, x87.escDF];
const X87 = { modrm: true, reg: K_RAW, rm: K_RAW, ends: true, modrmInImm: true };

/** Opcode table: 0x000-0x0FF one-byte opcodes, 0x100-0x1FF the 0F page. */
export const OPCODES: OpcodeEntry[] = new Array<OpcodeEntry>(512).fill(UNDEFINED);

function defineOneByte(): void {
  const aluNames = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
  for (let k = 0; k < 8; k++) {
    const b = k * 8, lock = k !== 7, n = aluNames[k];
    OPCODES[b] = op(`${n} Eb,Gb`, alu.aluEbGb, { ...EB_GB, sub: k, lock, w: lock });
    OPCODES[b + 1] = op(`${n} Ev,Gv`, [alu.aluEwGw, alu.aluEdGd], { ...EV_GV, sub: k, lock, w: lock });
    OPCODES[b + 2] = op(`${n} Gb,Eb`, alu.aluGbEb, { ...EB_GB, sub: k });
    OPCODES[b + 3] = op(`${n} Gv,Ev`, [alu.aluGwEw, alu.aluGdEd], { ...EV_GV, sub: k });
    OPCODES[b + 4] = op(`${n} AL,Ib`, alu.aluEbIb, { rm: K_R8, acc: true, imm: IMM_IB, sub: k });
    OPCODES[b + 5] = op(`${n} eAX,Iv`, [alu.aluEwIw, alu.aluEdId], { rm: K_RV, acc: true, imm: IMM_IV, sub: k });
  }
  const segPush: [number, number, number][] = [[0x06, 0x07, Seg.ES], [0x0e, -1, Seg.CS], [0x16, 0x17, Seg.SS], [0x1e, 0x1f, Seg.DS]];
  for (const [push, pop, seg] of segPush) {
    OPCODES[push] = op('PUSH Sreg', [stk.pushSw, stk.pushSd], { sub: seg });
    if (pop >= 0) OPCODES[pop] = op('POP Sreg', [stk.popSw, stk.popSd], { sub: seg });
  }
  OPCODES[0x27] = op('DAA', bcd.daa);
  OPCODES[0x2f] = op('DAS', bcd.das);
  OPCODES[0x37] = op('AAA', bcd.aaa);
  OPCODES[0x3f] = op('AAS', bcd.aas);
  for (let r = 0; r < 8; r++) {
    OPCODES[0x40 + r] = op('INC r', [alu.incDecRw, alu.incDecRd], { embedded: true, reg: K_RV, sub: 0 });
    OPCODES[0x48 + r] = op('DEC r', [alu.incDecRw, alu.incDecRd], { embedded: true, reg: K_RV, sub: 1 });
    OPCODES[0x50 + r] = op('PUSH r', [stk.pushRw, stk.pushRd], { embedded: true, reg: K_RV });
    OPCODES[0x58 + r] = op('POP r', [stk.popRw, stk.popRd], { embedded: true, reg: K_RV });
    if (r > 0) OPCODES[0x90 + r] = op('XCHG eAX,r', [data.xchgAxRw, data.xchgEaxRd], { embedded: true, reg: K_RV });
    OPCODES[0xb0 + r] = op('MOV r8,Ib', data.movRbIb, { embedded: true, reg: K_R8, imm: IMM_IB });
    OPCODES[0xb8 + r] = op('MOV r,Iv', [data.movRwIw, data.movRdId], { embedded: true, reg: K_RV, imm: IMM_IV });
  }
  OPCODES[0x60] = op('PUSHA', [stk.pushaW, stk.pushaD]);
  OPCODES[0x61] = op('POPA', [stk.popaW, stk.popaD]);
  OPCODES[0x62] = op('BOUND', [ctl.boundW, ctl.boundD], EV_GV);
  OPCODES[0x63] = op('ARPL Ew,Gw', pm.arpl, { modrm: true, reg: K_R16, rm: K_R16, w: true });
  OPCODES[0x68] = op('PUSH Iv', [stk.pushIw, stk.pushId], { imm: IMM_IV });
  OPCODES[0x69] = op('IMUL Gv,Ev,Iv', [md.imulGwEwI, md.imulGdEdI], { ...EV_GV, imm: IMM_IV });
  OPCODES[0x6a] = op('PUSH Ib', [stk.pushIw, stk.pushId], { imm: IMM_IB });
  OPCODES[0x6b] = op('IMUL Gv,Ev,Ib', [md.imulGwEwI, md.imulGdEdI], { ...EV_GV, imm: IMM_IB });
  OPCODES[0x6c] = op('INSB', str.insB, STRING);
  OPCODES[0x6d] = op('INS', [str.insW, str.insD], STRING);
  OPCODES[0x6e] = op('OUTSB', str.outsB, STRING);
  OPCODES[0x6f] = op('OUTS', [str.outsW, str.outsD], STRING);
  for (let cc = 0; cc < 16; cc++) {
    OPCODES[0x70 + cc] = op('Jcc Jb', [ctl.jccW, ctl.jccD], { imm: IMM_JB, sub: cc, ends: true });
  }
  const aluGroup = (h: Handler | readonly [Handler, Handler], imm: number, rm: number) =>
    group('GRP1', [0, 1, 2, 3, 4, 5, 6, 7].map((k) => op(`ALU${k} E,I`, h, { modrm: true, rm, imm, lock: k !== 7, w: k !== 7 })));
  OPCODES[0x80] = aluGroup(alu.aluEbIb, IMM_IB, K_R8);
  OPCODES[0x81] = aluGroup([alu.aluEwIw, alu.aluEdId], IMM_IV, K_RV);
  OPCODES[0x82] = OPCODES[0x80];
  OPCODES[0x83] = aluGroup([alu.aluEwIw, alu.aluEdId], IMM_IB, K_RV);
  OPCODES[0x84] = op('TEST Eb,Gb', alu.testEbGb, EB_GB);
  OPCODES[0x85] = op('TEST Ev,Gv', [alu.testEwGw, alu.testEdGd], EV_GV);
  OPCODES[0x86] = op('XCHG Eb,Gb', data.xchgEbGb, { ...EB_GB, lock: true, w: true });
  OPCODES[0x87] = op('XCHG Ev,Gv', [data.xchgEwGw, data.xchgEdGd], { ...EV_GV, lock: true, w: true });
  OPCODES[0x88] = op('MOV Eb,Gb', data.movEbGb, { ...EB_GB, w: true });
  OPCODES[0x89] = op('MOV Ev,Gv', [data.movEwGw, data.movEdGd], { ...EV_GV, w: true });
  OPCODES[0x8a] = op('MOV Gb,Eb', data.movGbEb, EB_GB);
  OPCODES[0x8b] = op('MOV Gv,Ev', [data.movGwEw, data.movGdEd], EV_GV);
  OPCODES[0x8c] = op('MOV Ev,Sw', [data.movEwSw, data.movEdSw], { modrm: true, reg: K_RAW, rm: K_RV, w: true });
  OPCODES[0x8d] = op('LEA', [data.leaGw, data.leaGd], EV_GV);
  OPCODES[0x8e] = op('MOV Sw,Ew', data.movSwEw, { modrm: true, reg: K_RAW, rm: K_R16 });
  OPCODES[0x8f] = group('GRP1A', [op('POP Ev', [stk.popEw, stk.popEd], { ...EV, w: true }), UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED]);
  OPCODES[0x90] = op('NOP', sys.nop);
  OPCODES[0x98] = op('CBW', [data.cbw, data.cwde]);
  OPCODES[0x99] = op('CWD', [data.cwd, data.cdq]);
  OPCODES[0x9a] = op('CALL Ap', [ctl.callFarW, ctl.callFarD], { imm: IMM_AP, ends: true });
  OPCODES[0x9b] = op('WAIT', x87.fwait, { ends: true });
  OPCODES[0x9c] = op('PUSHF', [stk.pushfW, stk.pushfD]);
  OPCODES[0x9d] = op('POPF', [stk.popfW, stk.popfD]);
  OPCODES[0x9e] = op('SAHF', data.sahf);
  OPCODES[0x9f] = op('LAHF', data.lahf);
  OPCODES[0xa0] = op('MOV AL,Ob', data.movGbEb, { imm: IMM_MOFFS, reg: K_R8, rm: K_R8, fixedReg: 0 });
  OPCODES[0xa1] = op('MOV eAX,Ov', [data.movGwEw, data.movGdEd], { imm: IMM_MOFFS, reg: K_RV, rm: K_RV, fixedReg: 0 });
  OPCODES[0xa2] = op('MOV Ob,AL', data.movEbGb, { imm: IMM_MOFFS, reg: K_R8, rm: K_R8, fixedReg: 0, w: true });
  OPCODES[0xa3] = op('MOV Ov,eAX', [data.movEwGw, data.movEdGd], { imm: IMM_MOFFS, reg: K_RV, rm: K_RV, fixedReg: 0, w: true });
  OPCODES[0xa4] = op('MOVSB', str.movsB, STRING);
  OPCODES[0xa5] = op('MOVS', [str.movsW, str.movsD], STRING);
  OPCODES[0xa6] = op('CMPSB', str.cmpsB, STRING);
  OPCODES[0xa7] = op('CMPS', [str.cmpsW, str.cmpsD], STRING);
  OPCODES[0xa8] = op('TEST AL,Ib', alu.testEbIb, { rm: K_R8, acc: true, imm: IMM_IB });
  OPCODES[0xa9] = op('TEST eAX,Iv', [alu.testEwIw, alu.testEdId], { rm: K_RV, acc: true, imm: IMM_IV });
  OPCODES[0xaa] = op('STOSB', str.stosB, STRING);
  OPCODES[0xab] = op('STOS', [str.stosW, str.stosD], STRING);
  OPCODES[0xac] = op('LODSB', str.lodsB, STRING);
  OPCODES[0xad] = op('LODS', [str.lodsW, str.lodsD], STRING);
  OPCODES[0xae] = op('SCASB', str.scasB, STRING);
  OPCODES[0xaf] = op('SCAS', [str.scasW, str.scasD], STRING);
  const shiftGroup = (h: Handler | readonly [Handler, Handler], imm: number, rm: number) =>
    group('GRP2', [0, 1, 2, 3, 4, 5, 6, 7].map((k) => op(`SHIFT${k}`, h, { modrm: true, rm, imm, w: true })));
  OPCODES[0xc0] = shiftGroup(sh.shiftEbIb, IMM_IBU, K_R8);
  OPCODES[0xc1] = shiftGroup([sh.shiftEwIb, sh.shiftEdIb], IMM_IBU, K_RV);
  OPCODES[0xd0] = shiftGroup(sh.shiftEb1, IMM_NONE, K_R8);
  OPCODES[0xd1] = shiftGroup([sh.shiftEw1, sh.shiftEd1], IMM_NONE, K_RV);
  OPCODES[0xd2] = shiftGroup(sh.shiftEbCL, IMM_NONE, K_R8);
  OPCODES[0xd3] = shiftGroup([sh.shiftEwCL, sh.shiftEdCL], IMM_NONE, K_RV);
  OPCODES[0xc2] = op('RET Iw', [ctl.retW, ctl.retD], { imm: IMM_IW, ends: true });
  OPCODES[0xc3] = op('RET', [ctl.retW, ctl.retD], { ends: true });
  OPCODES[0xc4] = op('LES', [data.loadFarPointerW, data.loadFarPointerD], { ...EV_GV, sub: Seg.ES });
  OPCODES[0xc5] = op('LDS', [data.loadFarPointerW, data.loadFarPointerD], { ...EV_GV, sub: Seg.DS });
  OPCODES[0xc6] = group('GRP11', [op('MOV Eb,Ib', data.movEbIb, { ...EB, imm: IMM_IB, w: true }), UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED]);
  OPCODES[0xc7] = group('GRP11', [op('MOV Ev,Iv', [data.movEwIw, data.movEdId], { ...EV, imm: IMM_IV, w: true }), UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED]);
  OPCODES[0xc8] = op('ENTER', [stk.enterW, stk.enterD], { imm: IMM_ENTER });
  OPCODES[0xc9] = op('LEAVE', [stk.leaveW, stk.leaveD]);
  OPCODES[0xca] = op('RETF Iw', [ctl.retfW, ctl.retfD], { imm: IMM_IW, ends: true });
  OPCODES[0xcb] = op('RETF', [ctl.retfW, ctl.retfD], { ends: true });
  OPCODES[0xcc] = op('INT3', ctl.int3, { ends: true });
  OPCODES[0xcd] = op('INT Ib', ctl.intN, { imm: IMM_IBU, ends: true });
  OPCODES[0xce] = op('INTO', ctl.into, { ends: true });
  OPCODES[0xcf] = op('IRET', [ctl.iretW, ctl.iretD], { ends: true });
  OPCODES[0xd4] = op('AAM', bcd.aam, { imm: IMM_IBU });
  OPCODES[0xd5] = op('AAD', bcd.aad, { imm: IMM_IBU });
  OPCODES[0xd6] = op('SALC', data.salc);
  OPCODES[0xd7] = op('XLAT', data.xlat);
  for (let k = 0; k < 8; k++) OPCODES[0xd8 + k] = op(`ESC ${(0xd8 + k).toString(16).toUpperCase()}`, X87_ESCAPES[k], X87);
  OPCODES[0xe0] = op('LOOPNE', [ctl.loopW, ctl.loopD], { imm: IMM_JB, sub: 0, ends: true });
  OPCODES[0xe1] = op('LOOPE', [ctl.loopW, ctl.loopD], { imm: IMM_JB, sub: 1, ends: true });
  OPCODES[0xe2] = op('LOOP', [ctl.loopW, ctl.loopD], { imm: IMM_JB, sub: 2, ends: true });
  OPCODES[0xe3] = op('JCXZ', [ctl.jcxzW, ctl.jcxzD], { imm: IMM_JB, ends: true });
  OPCODES[0xe4] = op('IN AL,Ib', sys.inALIb, { imm: IMM_IBU });
  OPCODES[0xe5] = op('IN eAX,Ib', [sys.inAXIb, sys.inEAXIb], { imm: IMM_IBU });
  OPCODES[0xe6] = op('OUT Ib,AL', sys.outIbAL, { imm: IMM_IBU });
  OPCODES[0xe7] = op('OUT Ib,eAX', [sys.outIbAX, sys.outIbEAX], { imm: IMM_IBU });
  OPCODES[0xe8] = op('CALL Jv', [ctl.callRelW, ctl.callRelD], { imm: IMM_JV, ends: true });
  OPCODES[0xe9] = op('JMP Jv', [ctl.jmpRelW, ctl.jmpRelD], { imm: IMM_JV, ends: true });
  OPCODES[0xea] = op('JMP Ap', [ctl.jmpFarW, ctl.jmpFarD], { imm: IMM_AP, ends: true });
  OPCODES[0xeb] = op('JMP Jb', [ctl.jmpRelW, ctl.jmpRelD], { imm: IMM_JB, ends: true });
  OPCODES[0xec] = op('IN AL,DX', sys.inALDX);
  OPCODES[0xed] = op('IN eAX,DX', [sys.inAXDX, sys.inEAXDX]);
  OPCODES[0xee] = op('OUT DX,AL', sys.outDXAL);
  OPCODES[0xef] = op('OUT DX,eAX', [sys.outDXAX, sys.outDXEAX]);
  OPCODES[0xf1] = op('INT1', ctl.int1, { ends: true });
  OPCODES[0xf4] = op('HLT', sys.hlt, { ends: true });
  OPCODES[0xf5] = op('CMC', sys.cmc);
  OPCODES[0xf6] = group('GRP3', [
    op('TEST Eb,Ib', alu.testEbIb, { ...EB, imm: IMM_IB }), op('TEST Eb,Ib', alu.testEbIb, { ...EB, imm: IMM_IB }),
    op('NOT Eb', alu.notEb, { ...EB, lock: true, w: true }), op('NEG Eb', alu.negEb, { ...EB, lock: true, w: true }),
    op('MUL Eb', md.mulEb, EB), op('IMUL Eb', md.imulEb, EB), op('DIV Eb', md.divEb, EB), op('IDIV Eb', md.idivEb, EB),
  ]);
  OPCODES[0xf7] = group('GRP3', [
    op('TEST Ev,Iv', [alu.testEwIw, alu.testEdId], { ...EV, imm: IMM_IV }), op('TEST Ev,Iv', [alu.testEwIw, alu.testEdId], { ...EV, imm: IMM_IV }),
    op('NOT Ev', [alu.notEw, alu.notEd], { ...EV, lock: true, w: true }), op('NEG Ev', [alu.negEw, alu.negEd], { ...EV, lock: true, w: true }),
    op('MUL Ev', [md.mulEw, md.mulEd], EV), op('IMUL Ev', [md.imulEw, md.imulEd], EV),
    op('DIV Ev', [md.divEw, md.divEd], EV), op('IDIV Ev', [md.idivEw, md.idivEd], EV),
  ]);
  OPCODES[0xf8] = op('CLC', sys.clc);
  OPCODES[0xf9] = op('STC', sys.stc);
  OPCODES[0xfa] = op('CLI', sys.cli);
  OPCODES[0xfb] = op('STI', sys.sti);
  OPCODES[0xfc] = op('CLD', sys.cld);
  OPCODES[0xfd] = op('STD', sys.std);
  OPCODES[0xfe] = group('GRP4', [op('INC Eb', alu.incDecEb, { ...EB, lock: true, w: true }), op('DEC Eb', alu.incDecEb, { ...EB, lock: true, w: true }),
    UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED]);
  OPCODES[0xff] = group('GRP5', [
    op('INC Ev', [alu.incDecEw, alu.incDecEd], { ...EV, lock: true, w: true }), op('DEC Ev', [alu.incDecEw, alu.incDecEd], { ...EV, lock: true, w: true }),
    op('CALL Ev', [ctl.callEw, ctl.callEd], { ...EV, ends: true }), op('CALL Mp', [ctl.callFarEw, ctl.callFarEd], { ...EV, ends: true }),
    op('JMP Ev', [ctl.jmpEw, ctl.jmpEd], { ...EV, ends: true }), op('JMP Mp', [ctl.jmpFarEw, ctl.jmpFarEd], { ...EV, ends: true }),
    op('PUSH Ev', [stk.pushEw, stk.pushEd], EV), UNDEFINED,
  ]);
}

function defineTwoByte(): void {
  const T = (b: number, e: OpcodeEntry) => { OPCODES[0x100 + b] = e; };
  T(0x00, group('GRP6', [
    op('SLDT', pm.sldt, { ...EV, w: true }), op('STR', pm.str, { ...EV, w: true }), op('LLDT', pm.lldt, { ...EW, ends: true }), op('LTR', pm.ltr, EW),
    op('VERR', pm.verify, { ...EW, sub: 4 }), op('VERW', pm.verify, { ...EW, sub: 5 }), UNDEFINED, UNDEFINED,
  ]));
  T(0x02, op('LAR', pm.lar, { modrm: true, reg: K_RV, rm: K_R16 }));
  T(0x03, op('LSL', pm.lsl, { modrm: true, reg: K_RV, rm: K_R16 }));
  T(0x01, group('GRP7', [
    op('SGDT', sys.storeDescriptorTable, { ...EV, w: true }), op('SIDT', sys.storeDescriptorTable, { ...EV, w: true }),
    op('LGDT', sys.loadDescriptorTable, EV), op('LIDT', sys.loadDescriptorTable, EV),
    op('SMSW', sys.smsw, { ...EV, w: true }), UNDEFINED, op('LMSW', sys.lmsw, { ...EW, ends: true }), op('INVLPG', sys.invlpg, { ...EV, ends: true }),
  ]));
  T(0x06, op('CLTS', sys.clts));
  T(0x08, op('INVD', model.invd));
  T(0x09, op('WBINVD', model.invd));
  T(0x0b, op('UD2', sys.undefinedOpcode));
  // 0F 19-1F: NOP Ev on P6 (0F 1F /0 is the documented multi-byte NOP); no memory access.
  for (let b = 0x19; b <= 0x1f; b++) T(b, op('NOP Ev', sys.nop, EV));
  T(0x30, op('WRMSR', model.wrmsr, { ends: true }));
  T(0x31, op('RDTSC', model.rdtsc, { ends: true }));
  T(0x32, op('RDMSR', model.rdmsr));
  T(0x33, op('RDPMC', model.rdpmc));
  T(0x34, op('SYSENTER', model.sysenter, { ends: true }));
  T(0x35, op('SYSEXIT', model.sysexit, { ends: true }));
  T(0xa2, op('CPUID', model.cpuid, { ends: true }));
  T(0x20, op('MOV Rd,Cd', sys.movRdCr, { modrm: true, reg: K_RAW, rm: K_R32 }));
  T(0x22, op('MOV Cd,Rd', sys.movCrRd, { modrm: true, reg: K_RAW, rm: K_R32, ends: true }));
  T(0x21, op('MOV Rd,Dd', sys.movRdDr, { modrm: true, reg: K_RAW, rm: K_R32 }));
  T(0x23, op('MOV Dd,Rd', sys.movDrRd, { modrm: true, reg: K_RAW, rm: K_R32 }));
  for (let cc = 0; cc < 16; cc++) {
    T(0x40 + cc, op('CMOVcc', [bits.cmovGwEw, bits.cmovGdEd], { ...EV_GV, sub: cc }));
    T(0x80 + cc, op('Jcc Jv', [ctl.jccW, ctl.jccD], { imm: IMM_JV, sub: cc, ends: true }));
    T(0x90 + cc, op('SETcc', bits.setcc, { ...EB, sub: cc, w: true }));
  }
  T(0xa0, op('PUSH FS', [stk.pushSw, stk.pushSd], { sub: Seg.FS }));
  T(0xa1, op('POP FS', [stk.popSw, stk.popSd], { sub: Seg.FS }));
  T(0xa8, op('PUSH GS', [stk.pushSw, stk.pushSd], { sub: Seg.GS }));
  T(0xa9, op('POP GS', [stk.popSw, stk.popSd], { sub: Seg.GS }));
  T(0xa3, op('BT Ev,Gv', [bits.btEwGw, bits.btEdGd], { ...EV_GV, sub: BitOp.Test }));
  T(0xab, op('BTS Ev,Gv', [bits.btEwGw, bits.btEdGd], { ...EV_GV, sub: BitOp.Set, lock: true, w: true }));
  T(0xb3, op('BTR Ev,Gv', [bits.btEwGw, bits.btEdGd], { ...EV_GV, sub: BitOp.Reset, lock: true, w: true }));
  T(0xbb, op('BTC Ev,Gv', [bits.btEwGw, bits.btEdGd], { ...EV_GV, sub: BitOp.Complement, lock: true, w: true }));
  T(0xba, group('GRP8', [UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED,
    op('BT Ev,Ib', [bits.btEwIb, bits.btEdIb], { ...EV, imm: IMM_IBU, sub: BitOp.Test }),
    op('BTS Ev,Ib', [bits.btEwIb, bits.btEdIb], { ...EV, imm: IMM_IBU, sub: BitOp.Set, lock: true, w: true }),
    op('BTR Ev,Ib', [bits.btEwIb, bits.btEdIb], { ...EV, imm: IMM_IBU, sub: BitOp.Reset, lock: true, w: true }),
    op('BTC Ev,Ib', [bits.btEwIb, bits.btEdIb], { ...EV, imm: IMM_IBU, sub: BitOp.Complement, lock: true, w: true }),
  ]));
  T(0xa4, op('SHLD Ev,Gv,Ib', [sh.shldEwGw, sh.shldEdGd], { ...EV_GV, imm: IMM_IBU, sub: 0, w: true }));
  T(0xa5, op('SHLD Ev,Gv,CL', [sh.shldEwGw, sh.shldEdGd], { ...EV_GV, sub: 2, w: true }));
  T(0xac, op('SHRD Ev,Gv,Ib', [sh.shldEwGw, sh.shldEdGd], { ...EV_GV, imm: IMM_IBU, sub: 1, w: true }));
  T(0xad, op('SHRD Ev,Gv,CL', [sh.shldEwGw, sh.shldEdGd], { ...EV_GV, sub: 3, w: true }));
  T(0xaf, op('IMUL Gv,Ev', [md.imulGwEw, md.imulGdEd], EV_GV));
  T(0xb0, op('CMPXCHG Eb,Gb', data.cmpxchgEbGb, { ...EB_GB, lock: true, w: true }));
  T(0xb1, op('CMPXCHG Ev,Gv', [data.cmpxchgEwGw, data.cmpxchgEdGd], { ...EV_GV, lock: true, w: true }));
  T(0xb2, op('LSS', [data.loadFarPointerW, data.loadFarPointerD], { ...EV_GV, sub: Seg.SS }));
  T(0xb4, op('LFS', [data.loadFarPointerW, data.loadFarPointerD], { ...EV_GV, sub: Seg.FS }));
  T(0xb5, op('LGS', [data.loadFarPointerW, data.loadFarPointerD], { ...EV_GV, sub: Seg.GS }));
  T(0xb6, op('MOVZX Gv,Eb', [data.movzxGwEb, data.movzxGdEb], { modrm: true, reg: K_RV, rm: K_R8 }));
  T(0xb7, op('MOVZX Gv,Ew', [data.movzxGwEw, data.movzxGdEw], { modrm: true, reg: K_RV, rm: K_R16 }));
  T(0xbe, op('MOVSX Gv,Eb', [data.movsxGwEb, data.movsxGdEb], { modrm: true, reg: K_RV, rm: K_R8 }));
  T(0xbf, op('MOVSX Gv,Ew', [data.movsxGwEw, data.movsxGdEw], { modrm: true, reg: K_RV, rm: K_R16 }));
  T(0xbc, op('BSF', [bits.bsfGwEw, bits.bsfGdEd], { ...EV_GV, sub: 0 }));
  T(0xbd, op('BSR', [bits.bsfGwEw, bits.bsfGdEd], { ...EV_GV, sub: 1 }));
  T(0xc0, op('XADD Eb,Gb', data.xaddEbGb, { ...EB_GB, lock: true, w: true }));
  T(0xc1, op('XADD Ev,Gv', [data.xaddEwGw, data.xaddEdGd], { ...EV_GV, lock: true, w: true }));
  T(0xc7, group('GRP9', [UNDEFINED, op('CMPXCHG8B Mq', model.cmpxchg8b, { modrm: true, lock: true, w: true }),
    UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED, UNDEFINED]));
  for (let r = 0; r < 8; r++) T(0xc8 + r, op('BSWAP', data.bswap, { embedded: true, reg: K_R32 }));
}

defineOneByte();
defineTwoByte();
