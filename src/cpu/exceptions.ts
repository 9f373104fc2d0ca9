/**
 * x86 exception and interrupt vectors, and the preallocated object the CPU throws to
 * unwind from a faulting instruction (DESIGN.md: no allocation on the hot path).
 */

export const VEC_DE = 0; // divide error
export const VEC_DB = 1; // debug (single step)
export const VEC_NMI = 2;
export const VEC_BP = 3; // INT3
export const VEC_OF = 4; // INTO
export const VEC_BR = 5; // BOUND range exceeded
export const VEC_UD = 6; // invalid opcode
export const VEC_NM = 7; // device not available
export const VEC_DF = 8; // double fault
export const VEC_TS = 10;
export const VEC_NP = 11;
export const VEC_SS = 12; // stack-segment fault
export const VEC_GP = 13; // general protection
export const VEC_PF = 14;
export const VEC_MF = 16;
export const VEC_AC = 17; // alignment check

/**
 * A guest-visible fault raised while executing an instruction. One instance per CPU is
 * reused: `raise()` fills it in and throws it; the run loop catches exactly this object.
 */
export class GuestFault {
  vector = 0;
  errorCode = 0;
  hasErrorCode = false;
}

/** A host-side problem found while executing guest code (e.g. an unimplemented feature). */
export class CpuHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuHostError';
  }
}
