/**
 * Test helper: a bare CPU on guest memory and an empty I/O bus, for instruction-level tests
 * (conformance, decoder edge cases). Not a whole PC: no devices unless a test adds them.
 */
import { IoBus } from '../../src/bus/io-bus.js';
import { Cpu } from '../../src/cpu/cpu.js';
import { FramePool } from '../../src/memory/frame-pool.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';

/** A CPU with its memory and I/O bus. */
export interface BareCpu {
  pool: FramePool;
  memory: GuestMemory;
  io: IoBus;
  cpu: Cpu;
}

/** Create a CPU with `ramBytes` of RAM (default 2 MiB) and nothing on the I/O bus. */
export function createBareCpu(ramBytes = 2 << 20): BareCpu {
  const pool = new FramePool({ maxFrames: 16384 });
  const memory = new GuestMemory(pool, ramBytes);
  const io = new IoBus();
  const cpu = new Cpu(memory, io);
  return { pool, memory, io, cpu };
}

/** 16-bit register names in encoding order. */
export const REG16_NAMES = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] as const;
/** Segment register names in encoding order. */
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds'] as const;

/** Put the CPU in a real-mode state given 16-bit register values (high halves zeroed). */
export function setRealModeState(cpu: Cpu, regs: Record<string, number>): void {
  for (let r = 0; r < 8; r++) cpu.regs[r] = regs[REG16_NAMES[r]] ?? 0;
  for (let s = 0; s < 4; s++) cpu.loadSegmentReal(s, regs[SEG_NAMES[s]] ?? 0);
  cpu.loadSegmentReal(4, 0);
  cpu.loadSegmentReal(5, 0);
  cpu.eip = regs.ip ?? 0;
  cpu.setFlags(regs.flags ?? 2);
  cpu.halted = false;
}
