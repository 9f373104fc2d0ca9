/**
 * Host-CPU differential test: the EFLAGS status flags (and, in two places, results) that
 * the Intel SDM vol. 2 leaves *undefined* for each instruction. Only these are masked
 * when the emulator's outcome is compared with the host CPU's; every other flag, register
 * and byte is compared exactly. Each entry cites the "Flags Affected" section of the SDM
 * vol. 2 instruction page it comes from.
 */
import { F } from './cases.js';

/** Nothing undefined. */
export const NONE = 0;

/**
 * AND, OR, XOR, TEST — SDM vol. 2A/2B "AND", "OR", "XOR", "TEST", Flags Affected:
 * "The OF and CF flags are cleared; the SF, ZF, and PF flags are set according to the
 * result. The state of the AF flag is undefined."
 */
export const LOGIC = F.AF;

/**
 * ADD ADC SUB SBB CMP NEG INC DEC: every flag they touch is defined (vol. 2A "ADD", "ADC",
 * "CMP", "DEC", "INC"; vol. 2B "NEG", "SBB", "SUB"). NOT affects none ("NOT": "None").
 */
export const ARITH = NONE;

/**
 * MUL, IMUL — vol. 2A "IMUL" and 2B "MUL", Flags Affected: "The SF, ZF, AF, and PF flags
 * are undefined." (CF and OF are defined.)
 */
export const MULTIPLY = F.SF | F.ZF | F.AF | F.PF;

/** DIV, IDIV — vol. 2A "DIV", "IDIV": "The CF, OF, SF, ZF, AF, and PF flags are undefined." */
export const DIVIDE = F.Status;

/** DAA, DAS — vol. 2A "DAA", "DAS": "The OF flag is undefined." */
export const DAA_DAS = F.OF;
/** AAA, AAS — vol. 2A "AAA", "AAS": "The OF, SF, ZF, and PF flags are undefined." */
export const AAA_AAS = F.OF | F.SF | F.ZF | F.PF;
/** AAM, AAD — vol. 2A "AAM", "AAD": "The OF, AF, and CF flags are undefined." */
export const AAM_AAD = F.OF | F.AF | F.CF;

/** BSF, BSR — vol. 2A "BSF", "BSR": "The CF, OF, SF, AF, and PF flags are undefined." */
export const BIT_SCAN = F.CF | F.OF | F.SF | F.AF | F.PF;

/**
 * BT, BTS, BTR, BTC — vol. 2A "BT" etc.: "The CF flag contains the value of the selected
 * bit. The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined."
 */
export const BIT_TEST = F.OF | F.SF | F.AF | F.PF;

/**
 * SAL/SHL/SAR/SHR (group-2 /4 /5 /6 /7) — vol. 2B "SAL/SAR/SHL/SHR", Flags Affected:
 * "The CF flag contains the value of the last bit shifted out ...; it is undefined for SHL
 * and SHR instructions where the count is greater than or equal to the size (in bits) of
 * the destination operand. The OF flag is affected only for 1-bit shifts ...; otherwise, it
 * is undefined. ... If the count is 0, the flags are not affected. For a non-zero count,
 * the AF flag is undefined." `kind` is the ModRM.reg field, `count` the raw count.
 */
export function shiftMask(kind: number, bits: number, count: number): number {
  const masked = count & 0x1f;
  if (masked === 0) return NONE;
  let m = F.AF;
  if (masked !== 1) m |= F.OF;
  const isSar = kind === 7;
  if (!isSar && masked >= bits) m |= F.CF;
  return m;
}

/**
 * ROL/ROR/RCL/RCR (group-2 /0-/3) — vol. 2B "RCL/RCR/ROL/ROR", Flags Affected: "If the
 * masked count is 0, the flags are not affected. If the masked count is 1, then the OF flag
 * is affected, otherwise (masked count is greater than 1) the OF flag is undefined. The CF
 * flag is affected when the masked count is non-zero. The SF, ZF, AF, and PF flags are
 * always unaffected."
 */
export function rotateMask(count: number): number {
  const masked = count & 0x1f;
  return masked > 1 ? F.OF : NONE;
}

/** Group 2 (rotates and shifts) by ModRM.reg. */
export function group2Mask(kind: number, bits: number, count: number): number {
  return kind < 4 ? rotateMask(count) : shiftMask(kind, bits, count);
}

/**
 * SHLD/SHRD — vol. 2B "SHLD", "SHRD", Flags Affected: "If the count is 1 or greater, the
 * CF flag is filled with the last bit shifted out ... and the SF, ZF, and PF flags are set
 * according to the value of the result. For a 1-bit shift, the OF flag is set if a sign
 * change occurred; otherwise, it is cleared. For shifts greater than 1 bit, the OF flag is
 * undefined. If a shift occurs, the AF flag is undefined. If the count operand is 0, the
 * flags are not affected. If the count is greater than the operand size, the flags are
 * undefined." (Description: "If the count is greater than the operand size, the result is
 * undefined" — the caller masks the destination too; see `doubleShiftResultUndefined`.)
 */
export function doubleShiftMask(bits: number, count: number): number {
  const masked = count & 0x1f;
  if (masked === 0) return NONE;
  if (masked > bits) return F.Status;
  return masked === 1 ? F.AF : F.AF | F.OF;
}

/** SHLD/SHRD: the destination is undefined when the (masked) count exceeds the operand size. */
export function doubleShiftResultUndefined(bits: number, count: number): boolean {
  return (count & 0x1f) > bits;
}
