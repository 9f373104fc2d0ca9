/**
 * What CPUID reports (SDM vol. 2A, "CPUID—CPU Identification"; vol. 3A §9.2 for the
 * processor signature): the one place that says which processor we claim to be and which
 * features we advertise. Other code (the FPU, paging, CR4 checks) refers to the named
 * feature bits here, so that an advertised bit and the code implementing it stay together.
 *
 * Choices, and why:
 * - Vendor "GenuineIntel". We first reported our own string ("TSHypervisor"), but
 *   operating systems only know real vendors' strings: Linux 6.1 answers an unknown one
 *   with "CPU: vendor_id ... unknown, using generic init. CPU: Your system may be
 *   unstable." The signature below is a real Intel part whose errata do not apply to
 *   anything we advertise, so Intel's init path treats us exactly as that processor, which
 *   is what every other PC emulator does too.
 * - Signature family 6, model 3, stepping 3 (Pentium II "Klamath"). Every feature bit we
 *   advertise existed on that part, and it is the first P6 model with SYSENTER: the SDM's
 *   own test treats SEP as unusable on family 6 with model < 3 and stepping < 3 (the Pentium
 *   Pro reported SEP without implementing it), and Linux clears SEP on such parts. A later
 *   model (Pentium III, model 7+) would imply SSE/FXSR/PAT, which we do not implement.
 *   Processor type 0 (original OEM processor).
 * - Maximum basic leaf 2, as on the Pentium II. Leaf 2 returns no cache or TLB descriptors:
 *   AL = 1 (one CPUID(2) call returns everything) and every other descriptor byte is the
 *   null descriptor 00h (bit 31 of each register clear: the register holds descriptors). We
 *   model no caches, so claiming sizes would be invented data.
 * - Leaves above the maximum, including 80000000h and up, return the data of the highest
 *   basic leaf, which is what Intel processors do for an out-of-range leaf; P6 parts had no
 *   extended leaves. Software probing 80000000h sees EAX = 00000001h, not 8000xxxxh, and so
 *   correctly concludes there are no extended leaves (no brand string: a brand string first
 *   appeared on later processors, and a P6 with one would be another invention).
 */

/** CPUID.01H:EDX feature bits (SDM vol. 2A, table "Feature Information Returned in EDX"). */
export const enum CpuidEdx {
  /** x87 FPU on chip. */
  FPU = 1 << 0,
  /** Virtual-8086 mode extensions (CR4.VME/PVI). Not advertised. */
  VME = 1 << 1,
  /** Debugging extensions: CR4.DE, I/O breakpoints, DR4/DR5 #UD. */
  DE = 1 << 2,
  /** 4 MiB pages (CR4.PSE). */
  PSE = 1 << 3,
  /** Time-stamp counter: RDTSC, CR4.TSD. */
  TSC = 1 << 4,
  /** RDMSR/WRMSR. */
  MSR = 1 << 5,
  /** Physical address extension (CR4.PAE). */
  PAE = 1 << 6,
  /** Machine-check exception (CR4.MCE). Not advertised. */
  MCE = 1 << 7,
  /** CMPXCHG8B. */
  CX8 = 1 << 8,
  /** On-chip local APIC: set at run time while a board-attached APIC is globally enabled (ops/model.ts). */
  APIC = 1 << 9,
  /** SYSENTER/SYSEXIT and their MSRs. */
  SEP = 1 << 11,
  /** Memory type range registers. Not advertised. */
  MTRR = 1 << 12,
  /** Global pages (CR4.PGE). */
  PGE = 1 << 13,
  /** Machine-check architecture. Not advertised. */
  MCA = 1 << 14,
  /** CMOVcc (and FCMOVcc/FCOMI when FPU is also set). */
  CMOV = 1 << 15,
  /** Page attribute table. Not advertised. */
  PAT = 1 << 16,
  /** 36-bit physical addresses in 4 MiB pages. Not advertised. */
  PSE36 = 1 << 17,
  /** MMX. Not advertised. */
  MMX = 1 << 23,
  /** FXSAVE/FXRSTOR. Not advertised. */
  FXSR = 1 << 24,
  /** SSE. Not advertised. */
  SSE = 1 << 25,
}

/** The feature bits we advertise in CPUID.01H:EDX: exactly what this CPU implements. */
export const CPUID_FEATURES_EDX =
  CpuidEdx.FPU | CpuidEdx.DE | CpuidEdx.PSE | CpuidEdx.TSC | CpuidEdx.MSR | CpuidEdx.PAE |
  CpuidEdx.CX8 | CpuidEdx.SEP | CpuidEdx.PGE | CpuidEdx.CMOV;

/** CPUID.01H:ECX feature bits we advertise (none: every ECX feature is later than P6). */
export const CPUID_FEATURES_ECX = 0;

/** Processor family we report (P6). */
export const CPU_FAMILY = 6;
/** Processor model we report (Pentium II "Klamath"; see the module header for why). */
export const CPU_MODEL = 3;
/** Processor stepping we report. */
export const CPU_STEPPING = 3;

/**
 * The processor signature (CPUID.01H:EAX): stepping [3:0], model [7:4], family [11:8],
 * type [13:12] = 0. It is also the value of EDX after RESET (SDM vol. 3A §9.1.4).
 */
export const CPUID_SIGNATURE = (CPU_FAMILY << 8) | (CPU_MODEL << 4) | CPU_STEPPING;

/** The vendor identification string (CPUID.00H: EBX, EDX, ECX in that order). */
export const CPUID_VENDOR = 'GenuineIntel';

/** The highest basic leaf we implement. */
export const CPUID_MAX_LEAF = 2;

/** Microcode update revision reported through IA32_BIOS_SIGN_ID (none loaded). */
export const MICROCODE_REVISION = 0;

/** Little-endian dword of four characters of `s` starting at `at`. */
function asciiDword(s: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const ch = s.charCodeAt(at + k);
    if (!(ch >= 0x20 && ch < 0x7f)) throw new Error(`CPUID vendor string '${s}' must be 12 printable ASCII characters`);
    v |= ch << (8 * k);
  }
  return v;
}

/**
 * Register values of every implemented leaf, flattened: leaf k's EAX, EBX, ECX, EDX at
 * [4k .. 4k+3]. A typed array so that CPUID reads it without allocation.
 */
export const CPUID_LEAVES: Int32Array = (() => {
  if (CPUID_VENDOR.length !== 12) throw new Error(`CPUID vendor string '${CPUID_VENDOR}' must be 12 characters`);
  const t = new Int32Array((CPUID_MAX_LEAF + 1) * 4);
  // Leaf 0: maximum leaf and vendor string (EBX, EDX, ECX).
  t[0] = CPUID_MAX_LEAF;
  t[1] = asciiDword(CPUID_VENDOR, 0);
  t[3] = asciiDword(CPUID_VENDOR, 4);
  t[2] = asciiDword(CPUID_VENDOR, 8);
  // Leaf 1: signature; EBX = 0 (no brand index, CLFLUSH size, logical count or APIC id).
  t[4] = CPUID_SIGNATURE;
  t[5] = 0;
  t[6] = CPUID_FEATURES_ECX;
  t[7] = CPUID_FEATURES_EDX;
  // Leaf 2: one iteration, all descriptors null.
  t[8] = 0x00000001;
  return t;
})();

/**
 * The row of CPUID_LEAVES (offset of its EAX) that answers `leaf` (an unsigned 32-bit
 * EAX value): the leaf itself if implemented, otherwise the highest basic leaf.
 */
export function cpuidRow(leaf: number): number {
  const l = leaf >>> 0;
  return (l <= CPUID_MAX_LEAF ? l : CPUID_MAX_LEAF) << 2;
}
