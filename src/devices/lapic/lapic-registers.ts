/**
 * The local APIC's register map and bit fields (Intel SDM vol. 3A ch. 11: table "Local APIC
 * Register Address Map", the LVT, ICR, SVR, ESR, DFR/LDR and divide-configuration layouts,
 * and IA32_APIC_BASE). Plain facts shared by the device (lapic.ts) and its tests.
 */
// ---- register offsets in the 4 KiB page (SDM table "Local APIC Register Address Map") ----
/** Local APIC ID register. */
export const LAPIC_ID = 0x020;
/** Local APIC version register (read-only). */
export const LAPIC_VERSION = 0x030;
/** Task priority register. */
export const LAPIC_TPR = 0x080;
/** Arbitration priority register (read-only). */
export const LAPIC_APR = 0x090;
/** Processor priority register (read-only). */
export const LAPIC_PPR = 0x0a0;
/** End-of-interrupt register (write-only). */
export const LAPIC_EOI = 0x0b0;
/** Remote read register (read-only; reads 0). */
export const LAPIC_RRD = 0x0c0;
/** Logical destination register. */
export const LAPIC_LDR = 0x0d0;
/** Destination format register. */
export const LAPIC_DFR = 0x0e0;
/** Spurious interrupt vector register. */
export const LAPIC_SVR = 0x0f0;
/** In-service register, 8 dwords 16 bytes apart. */
export const LAPIC_ISR = 0x100;
/** Trigger mode register, 8 dwords 16 bytes apart. */
export const LAPIC_TMR = 0x180;
/** Interrupt request register, 8 dwords 16 bytes apart. */
export const LAPIC_IRR = 0x200;
/** Error status register. */
export const LAPIC_ESR = 0x280;
/** Interrupt command register, low half (a write sends the IPI). */
export const LAPIC_ICR_LOW = 0x300;
/** Interrupt command register, high half (destination). */
export const LAPIC_ICR_HIGH = 0x310;
/** LVT timer. */
export const LAPIC_LVT_TIMER = 0x320;
/** LVT thermal sensor. */
export const LAPIC_LVT_THERMAL = 0x330;
/** LVT performance monitoring counters. */
export const LAPIC_LVT_PERF = 0x340;
/** LVT LINT0. */
export const LAPIC_LVT_LINT0 = 0x350;
/** LVT LINT1. */
export const LAPIC_LVT_LINT1 = 0x360;
/** LVT error. */
export const LAPIC_LVT_ERROR = 0x370;
/** Timer initial count register. */
export const LAPIC_TIMER_INITIAL = 0x380;
/** Timer current count register (read-only). */
export const LAPIC_TIMER_CURRENT = 0x390;
/** Timer divide configuration register. */
export const LAPIC_TIMER_DIVIDE = 0x3e0;

/** Size of the register page. */
export const LAPIC_MMIO_SIZE = 0x1000;
/** Default physical base (IA32_APIC_BASE after reset). */
export const LAPIC_DEFAULT_BASE = 0xfee00000;
/** Version register: version 14h, max LVT entry 5 (Pentium 4 / Xeon xAPIC). */
export const LAPIC_VERSION_VALUE = 0x00050014;

// ---- IA32_APIC_BASE ----
/** IA32_APIC_BASE bit 8: this processor is the bootstrap processor. */
export const APIC_BASE_BSP = 0x100;
/** IA32_APIC_BASE bit 10: x2APIC enable (not supported: reserved here). */
export const APIC_BASE_X2APIC = 0x400;
/** IA32_APIC_BASE bit 11: APIC global enable. */
export const APIC_BASE_ENABLE = 0x800;
/** IA32_APIC_BASE bits 31:12: the register page's physical base. */
export const APIC_BASE_ADDRESS_MASK = 0xfffff000;
/** IA32_APIC_BASE low-half bits whose being set makes WRMSR fault. */
export const APIC_BASE_RESERVED = 0x6ff;

// ---- SVR ----
/** SVR bit 8: APIC software enable. */
export const LAPIC_SVR_ENABLE = 0x100;
/** SVR bit 9: focus processor checking disabled. */
export const LAPIC_SVR_FOCUS_DISABLED = 0x200;
export const LAPIC_SVR_WRITABLE = 0x3ff;
export const LAPIC_SVR_RESET = 0xff;

// ---- LVT bits ----
/** LVT bits 7:0: vector. */
export const LVT_VECTOR = 0xff;
/** LVT bits 10:8: delivery mode (ApicDelivery). */
export const LVT_DELIVERY_MODE = 0x700;
/** LVT bit 12: delivery status (read-only, always idle here). */
export const LVT_DELIVERY_STATUS = 0x1000;
/** LVT bit 13 (LINT0/1): input pin polarity, 1 = active low. */
export const LVT_ACTIVE_LOW = 0x2000;
/** LVT bit 14 (LINT0/1): remote IRR (read-only). */
export const LVT_REMOTE_IRR = 0x4000;
/** LVT bit 15 (LINT0/1): trigger mode, 1 = level. */
export const LVT_LEVEL_TRIGGERED = 0x8000;
/** LVT bit 16: mask. */
export const LVT_MASKED = 0x10000;
/** LVT timer bit 17: periodic mode. */
export const LVT_TIMER_PERIODIC = 0x20000;

/** Index of each LVT entry in `lvt` (register offset = LAPIC_LVT_TIMER + 16 * index). */
export const enum LvtIndex {
  Timer = 0,
  Thermal = 1,
  Perf = 2,
  Lint0 = 3,
  Lint1 = 4,
  Error = 5,
}
/** Number of LVT entries (max LVT entry 5). */
export const LAPIC_LVT_COUNT = 6;
/** Writable bits of each LVT entry, by LvtIndex. */
export const LVT_WRITABLE: readonly number[] = [
  LVT_VECTOR | LVT_MASKED | LVT_TIMER_PERIODIC,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_ACTIVE_LOW | LVT_LEVEL_TRIGGERED | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_ACTIVE_LOW | LVT_LEVEL_TRIGGERED | LVT_MASKED,
  LVT_VECTOR | LVT_MASKED,
];
/** Read-only state bits kept in the LVT words (remote IRR of LINT0/1). */
export const LVT_STATE_BITS: readonly number[] = [0, 0, 0, LVT_REMOTE_IRR, LVT_REMOTE_IRR, 0];

// ---- ESR bits ----
/** ESR bit 5: send illegal vector. */
export const ESR_SEND_ILLEGAL_VECTOR = 0x20;
/** ESR bit 6: receive illegal vector. */
export const ESR_RECEIVE_ILLEGAL_VECTOR = 0x40;
/** ESR bit 7: illegal register address. */
export const ESR_ILLEGAL_REGISTER = 0x80;
export const ESR_KNOWN_BITS = 0xef;

// ---- ICR ----
/** ICR bit 11: logical destination mode. */
export const ICR_LOGICAL = 0x800;
/** ICR bit 14: level assert (0 = de-assert, meaningful for INIT level de-assert). */
export const ICR_LEVEL_ASSERT = 0x4000;
/** ICR bit 15: level trigger mode. */
export const ICR_LEVEL_TRIGGERED = 0x8000;
/** ICR bits 19:18: destination shorthand. */
export const ICR_SHORTHAND_SHIFT = 18;
/** Destination shorthands (ICR bits 19:18). */
export const enum IcrShorthand {
  None = 0,
  Self = 1,
  AllIncludingSelf = 2,
  AllExcludingSelf = 3,
}
export const ICR_LOW_WRITABLE = 0x000ccfff;
export const ICR_HIGH_WRITABLE = 0xff000000;

// ---- DFR / LDR ----
/** DFR model field (bits 31:28) for the flat model. */
export const DFR_MODEL_FLAT = 0xf;
/** DFR model field (bits 31:28) for the cluster model. */
export const DFR_MODEL_CLUSTER = 0x0;
export const DFR_WRITABLE = 0xf0000000;
export const DFR_RESERVED_ONES = 0x0fffffff;
export const LDR_WRITABLE = 0xff000000;

// ---- timer ----
/** Divide configuration bits (0, 1, 3). */
export const TIMER_DIVIDE_WRITABLE = 0xb;
/** Default timer input clock: 1 GHz. */
export const LAPIC_DEFAULT_TIMER_HZ = 1_000_000_000;
export const NS_PER_SECOND = 1_000_000_000;
