/**
 * The CPU's view of the I/O-port space. The CPU never imports a device or the bus
 * implementation: the board hands it something with this shape (src/bus IoBus).
 */

/** Port I/O as the CPU performs it: IN/OUT/INS/OUTS of 1, 2 or 4 bytes. */
export interface PortIo {
  read(port: number, size: 1 | 2 | 4): number;
  write(port: number, size: 1 | 2 | 4, value: number): void;
}

/** A source of maskable hardware interrupts (a PIC or APIC, wired by the board). */
export interface InterruptSource {
  /** True while an unmasked request is waiting to be acknowledged. */
  hasPending(): boolean;
  /** Acknowledge the highest-priority request and return its vector. */
  acknowledge(): number;
}

/**
 * The IA32_APIC_BASE MSR (1Bh, SDM vol. 3A §11.4.4), owned by the local APIC device and
 * reached through RDMSR/WRMSR. The board hands the CPU the APIC's implementation.
 */
export interface ApicBaseMsr {
  /** Low 32 bits of IA32_APIC_BASE (the high half is 0: 32-bit physical addresses). */
  readApicBaseMsr(): number;
  /** Write EDX:EAX = `hi`:`lo`; false when the value is invalid (the CPU raises #GP(0)). */
  writeApicBaseMsr(lo: number, hi: number): boolean;
}
