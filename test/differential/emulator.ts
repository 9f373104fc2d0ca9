/**
 * Host-CPU differential test, emulator side: runs cases on our CPU, booted once into
 * 32-bit flat protected mode by test/helpers/flat32-cpu.ts and reused for every case.
 * Per case: the code (followed by HLT) goes to CODE_BASE and the data window to DATA_BASE
 * through `memory.writeBytes` (which drops stale decoded blocks), registers and flags are
 * set directly, and `run()` goes until the HLT after the code or the HLT stub of the
 * exception vector that was delivered. For an exception the registers are those at the
 * handler with ESP taken from before the frame, EFLAGS and EIP come from the frame, and the
 * frame's bytes are reported as scratch (not compared).
 */
import { RunExit } from '../../src/cpu/cpu.js';
import type { BareCpu } from '../helpers/real-mode-cpu.js';
import { createFlat32Cpu, haltedVector, readExceptionFrame } from '../helpers/flat32-cpu.js';
import { CODE_BASE, DATA_BASE, DATA_SIZE, F, type DiffCase, type Outcome } from './cases.js';
import { endEip } from './native.js';

const HLT = 0xf4;
/** Instruction budget per case (REP strings with small counts stay far below). */
const BUDGET = 10_000;

/** Runs cases on one reused emulated CPU. */
export class EmulatorSide {
  private readonly codeBuf = new Uint8Array(80);

  /** `readFrame` reads the exception frame at ESP (the 32-bit protected-mode one by default). */
  constructor(private readonly bare: BareCpu, private readonly readFrame: typeof readExceptionFrame = readExceptionFrame) {}

  /** Boot a CPU into flat 32-bit protected mode (throws with the reason when that fails). */
  static create(): EmulatorSide {
    return new EmulatorSide(createFlat32Cpu(4 << 20));
  }

  /** Run one case. */
  run(c: DiffCase): Outcome {
    const { cpu, memory } = this.bare;
    this.codeBuf.set(c.code, 0);
    this.codeBuf[c.code.length] = HLT;
    memory.writeBytes(CODE_BASE, this.codeBuf.subarray(0, c.code.length + 1));
    memory.writeBytes(DATA_BASE, c.data);
    for (let r = 0; r < 8; r++) cpu.regs[r] = c.regs[r] | 0;
    cpu.setFlags((c.eflags & F.Compared) | 2);
    cpu.eip = CODE_BASE;
    cpu.halted = false;
    const data = new Uint8Array(DATA_SIZE);
    let exit: RunExit;
    try {
      exit = cpu.run(BUDGET);
    } catch (e) {
      memory.readBytes(DATA_BASE, data);
      return this.failure(`${(e as Error).name}: ${(e as Error).message}`, data);
    }
    memory.readBytes(DATA_BASE, data);
    if (exit !== RunExit.Halted) return this.failure(`run() returned ${exit} instead of halting (EIP ${cpu.eip.toString(16)})`, data);
    const regs = Array.from(cpu.regs.subarray(0, 8), (v) => v >>> 0);
    if (cpu.eip === endEip(c) + 1) {
      return { vector: -1, eip: endEip(c), regs, eflags: cpu.getFlags() >>> 0, data, scratch: [], error: null };
    }
    const vector = haltedVector(cpu.eip);
    if (vector < 0) return this.failure(`halted at unexpected EIP ${cpu.eip.toString(16)}`, data);
    const frame = this.readFrame(this.bare, vector);
    regs[4] = frame.espBefore;
    const scratch: [number, number][] = [[frame.espBefore - frame.size - DATA_BASE, frame.size]];
    return { vector, eip: frame.eip, regs, eflags: frame.eflags, data, scratch, error: null };
  }

  private failure(error: string, data: Uint8Array): Outcome {
    return { vector: -1, eip: 0, regs: [], eflags: 0, data, scratch: [], error };
  }
}
