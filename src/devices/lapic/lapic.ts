/**
 * Local APIC (xAPIC mode) of the one processor, after Intel SDM vol. 3A ch. 11 "Advanced
 * Programmable Interrupt Controller (APIC)": the register page (§11.4.1 table "Local APIC
 * Register Address Map"), IA32_APIC_BASE (§11.4.4), interrupt acceptance and priorities
 * (§11.8: IRR/ISR/TMR, TPR/PPR, EOI), the local vector table (§11.5.1), the error status
 * register (§11.5.3), the timer (§11.5.4), IPIs through the ICR (§11.6) and the spurious
 * interrupt vector register (§11.9).
 *
 * Model choices:
 * - Identity: a Pentium 4 / Xeon style integrated xAPIC on the front-side bus. Version
 *   register 0x00050014: version 14h (integrated APIC), max LVT entry 5, i.e. six LVT
 *   entries (timer, thermal, performance counters, LINT0, LINT1, error), no CMCI entry,
 *   bit 24 clear (no EOI-broadcast suppression, so SVR bit 12 is reserved). The spurious
 *   vector is 8 bits wide (P6 hard-wired bits 0-3 to 1; the P4 does not). APIC ID 0 by
 *   default (option `apicId`), writable in bits 31:24 as on the P4.
 * - APR (arbitration priority) is computed from TPR, the highest ISR and the highest IRR
 *   vector as §11.8.3.1 describes; with one processor nothing uses it.
 * - Timer (§11.5.4): counts at `timerHz` (default 1 GHz, the "bus clock" ahead of the
 *   divider) divided by the divide configuration (1..128). The current count is computed
 *   from `DeviceClock.nowNs()` at read time; the expiry is a `TimedDevice` event. One-shot
 *   and periodic modes; TSC-deadline mode is not offered (CPUID does not advertise it), so
 *   LVT timer bit 18 is reserved and reads 0. A divide-configuration write while the
 *   timer counts restarts the count from its current value at the new rate (the fraction
 *   of a tick in progress is dropped). Periodic reloads restart exactly at the expiry time
 *   (rounded up to a whole ns when `timerHz` does not divide 1e9 evenly). While the LVT
 *   timer is masked the count keeps running but no event is scheduled; missed periods
 *   collapse into one interrupt (an IRR bit holds one request).
 * - Acceptance (§11.8.2-11.8.4): a fixed interrupt sets its IRR bit (and its TMR bit for
 *   level-triggered sources, clears it for edge); the highest IRR vector whose priority
 *   class (vector >> 4) is above the PPR class is deliverable; `acknowledge()` moves it to
 *   ISR. EOI clears the highest ISR bit and, if that vector's TMR bit was set, tells the
 *   EOI listener (the I/O APIC) and re-arms level-triggered LINT inputs.
 * - Software disable (SVR bit 8 clear, §11.4.7.2): all LVT entries are masked and cannot
 *   be unmasked; IRR and ISR bits already present are kept and still delivered to the
 *   processor; new fixed and ExtINT interrupts are not accepted (they are lost, counted in
 *   `lostInterrupts`, and `deliverMessage` returns false); NMI and INIT are still accepted;
 *   IPIs can still be sent.
 * - Hardware disable (IA32_APIC_BASE bit 11 clear, §11.4.3): the processor behaves as if
 *   it had no APIC. LINT0 becomes the plain INTR pin (the 8259 PIC's output goes straight
 *   to the processor: `acknowledge()` asks the PIC) and LINT1 the NMI pin; the register
 *   page reads as all ones and ignores writes; messages are refused; the timer stops;
 *   all registers return to their power-on values. Setting bit 11 again re-enables the
 *   APIC in that power-on state: the SDM allows re-enabling without a reset on front-side
 *   bus processors (only 3-wire APIC bus parts need a reset), and Linux itself re-enables a
 *   BIOS-disabled APIC this way. The board must report CPUID.1:EDX.APIC = `hardwareEnabled`.
 * - IA32_APIC_BASE writes: bits 0-7, 9 (reserved), 10 (x2APIC enable, not supported) and
 *   any bit of the high half (physical addresses are 32 bits) are reserved: the write is
 *   refused and the CPU raises #GP(0). Bit 8 (BSP) is a hardware status bit: the written
 *   value is ignored. Changing the base (bits 31:12) calls `onRelocate(newBase)` so the
 *   board can move the MMIO mapping (also on reset/restore if the base changes back).
 * - ExtINT (LVT LINT0 delivery mode 7, unmasked, or an ExtINT message from the I/O APIC):
 *   the request bypasses IRR/ISR and the priority registers and is served before fixed
 *   interrupts; its vector comes from the 8259 PIC (`extInt.acknowledge()`). A LINT0
 *   ExtINT request is level-sensitive and follows the PIC's INTR output (`setLint0`); an
 *   ExtINT message stays pending until acknowledged.
 * - LINT0/LINT1: polarity bit 13 inverts the input (`setLint0/1` take the electrical
 *   level). Fixed mode: edge-triggered inputs raise the vector on each asserting edge;
 *   level-triggered inputs raise it while asserted and remote IRR (bit 14) is clear,
 *   setting remote IRR until the EOI. NMI mode: each asserting edge calls `onNmi`. INIT:
 *   `onInit`. SMI is not modelled (counted in `unsupportedDeliveries`).
 * - ESR (§11.5.3): errors accumulate internally; a write to the ESR copies them to the
 *   readable register and clears them. Errors raised: send illegal vector (an IPI with a
 *   fixed vector 0-15), receive illegal vector (a fixed interrupt 0-15 arriving, which is
 *   then dropped), illegal register address (access to a reserved offset). An error bit
 *   newly set since the last ESR write raises the LVT error interrupt if it is unmasked.
 * - ICR (§11.6.1): a write to the low half sends at once, so delivery status always reads
 *   idle. With one processor: shorthand self and all-including-self, or a destination
 *   that matches this APIC, deliver to this APIC (fixed/lowest-priority into IRR as an
 *   edge interrupt, NMI to `onNmi`, INIT assert to `onInit`); all-excluding-self and
 *   destinations matching nobody are counted in `undeliverableIpis` and dropped; INIT
 *   level-de-assert is a no-op; SMI/start-up/self with a non-fixed mode are counted in
 *   `unsupportedDeliveries`. IPI level/trigger bits are stored but IPIs are accepted as
 *   edge-triggered.
 * - Destination matching: physical = APIC ID or 0xFF (broadcast); logical = LDR/DFR flat
 *   model (bitwise AND of the 8-bit logical IDs) or cluster model (high nibble = cluster
 *   or 0xF for all clusters, low nibble AND).
 * - Delivery-status bits in LVT entries read idle (the core accepts at once).
 * - Register access: 32-bit aligned accesses as the SDM requires. Narrower or unaligned
 *   reads return the bytes of the register's first dword; writes other than aligned
 *   dwords are ignored and counted (`ignoredAccesses`). Reserved bytes 4-15 of each
 *   16-byte register slot read 0.
 * - Power-on state (§11.4.7.1): IRR/ISR/TMR, ICR, LDR, TPR, timer counts and divide
 *   configuration 0; DFR all ones; LVT entries masked (0x00010000); SVR 0xFF (software
 *   disabled); IA32_APIC_BASE 0xFEE00900 (BSP, enabled).
 * - `configureVirtualWire()` leaves the APIC as a PC BIOS does for MP-spec virtual wire
 *   mode (MP spec §3.6.2.2): software-enabled (SVR 0x1FF: with the APIC software-disabled
 *   every LVT is masked and the PIC could not reach the processor), LINT0 ExtINT
 *   unmasked, LINT1 NMI. Linux with an MP table does not program the APIC before its own
 *   setup (it reads the LINT0 mask the BIOS left), so the PIC's interrupts reach it
 *   through this path until then.
 * - Diagnostic counters are not part of the saved state.
 */

import { ApicDelivery, ApicDestinationMode, type ApicEoiListener, type ApicMessageSink } from '../../bus/apic-bus.js';
import type { DeviceClock, TimedDevice } from '../../bus/clock.js';
import type { AccessSize } from '../../bus/io-bus.js';
import type { MmioDevice } from '../../bus/mmio-bus.js';
import type { ApicBaseMsr, InterruptSource } from '../../cpu/port-io.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import {
  LAPIC_ID,
  LAPIC_VERSION,
  LAPIC_TPR,
  LAPIC_APR,
  LAPIC_PPR,
  LAPIC_EOI,
  LAPIC_RRD,
  LAPIC_LDR,
  LAPIC_DFR,
  LAPIC_SVR,
  LAPIC_ISR,
  LAPIC_TMR,
  LAPIC_IRR,
  LAPIC_ESR,
  LAPIC_ICR_LOW,
  LAPIC_ICR_HIGH,
  LAPIC_LVT_TIMER,
  LAPIC_LVT_LINT0,
  LAPIC_LVT_LINT1,
  LAPIC_LVT_ERROR,
  LAPIC_TIMER_INITIAL,
  LAPIC_TIMER_CURRENT,
  LAPIC_TIMER_DIVIDE,
  LAPIC_DEFAULT_BASE,
  LAPIC_VERSION_VALUE,
  APIC_BASE_BSP,
  APIC_BASE_ENABLE,
  APIC_BASE_ADDRESS_MASK,
  APIC_BASE_RESERVED,
  LAPIC_SVR_ENABLE,
  LAPIC_SVR_WRITABLE,
  LAPIC_SVR_RESET,
  LVT_VECTOR,
  LVT_DELIVERY_MODE,
  LVT_ACTIVE_LOW,
  LVT_REMOTE_IRR,
  LVT_LEVEL_TRIGGERED,
  LVT_MASKED,
  LVT_TIMER_PERIODIC,
  LvtIndex,
  LAPIC_LVT_COUNT,
  LVT_WRITABLE,
  LVT_STATE_BITS,
  ESR_SEND_ILLEGAL_VECTOR,
  ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_ILLEGAL_REGISTER,
  ESR_KNOWN_BITS,
  ICR_LOGICAL,
  ICR_LEVEL_ASSERT,
  ICR_SHORTHAND_SHIFT,
  IcrShorthand,
  ICR_LOW_WRITABLE,
  ICR_HIGH_WRITABLE,
  DFR_MODEL_FLAT,
  DFR_WRITABLE,
  DFR_RESERVED_ONES,
  LDR_WRITABLE,
  TIMER_DIVIDE_WRITABLE,
  LAPIC_DEFAULT_TIMER_HZ,
  NS_PER_SECOND,
} from './lapic-registers.js';

export * from './lapic-registers.js';

/** Vectors 0-15 are illegal for fixed interrupts. */
const FIRST_LEGAL_VECTOR = 16;
/** Physical / logical broadcast destination. */
const BROADCAST_DESTINATION = 0xff;
/** Version of the saved state layout. */
const LAPIC_STATE_VERSION = 1;
const WORD_COUNT = 8;
const U32_MAX = 0xffffffff;

/** The timer divisor selected by a divide configuration value (SDM figure "Divide Configuration Register"). */
export function timerDivisor(divideConfig: number): number {
  const code = (divideConfig & 3) | ((divideConfig & 8) >> 1);
  return code === 7 ? 1 : 2 << code;
}

/** floor(a * b / c) for non-negative integers, exact beyond 2^53 (BigInt fallback). */
function mulDivFloor(a: number, b: number, c: number): number {
  const product = a * b;
  if (product <= 2 ** 52) {
    let q = Math.floor(product / c);
    if (q * c > product) q--;
    else if ((q + 1) * c <= product) q++;
    return q;
  }
  return Number((BigInt(a) * BigInt(b)) / BigInt(c));
}

/** ceil(a * b / c) for non-negative integers. */
function mulDivCeil(a: number, b: number, c: number): number {
  const product = a * b;
  if (product <= 2 ** 52) {
    const q = mulDivFloor(a, b, c);
    return q * c === product ? q : q + 1;
  }
  const big = BigInt(a) * BigInt(b);
  const bigC = BigInt(c);
  return Number((big + bigC - 1n) / bigC);
}

/** Options the board gives the local APIC. */
export interface LocalApicOptions {
  /** Persist id and device name (default "lapic"). */
  readonly id?: string;
  /** The VM clock the timer reads. */
  readonly clock: DeviceClock;
  /** Timer input clock in Hz before the divider (default 1 GHz). */
  readonly timerHz?: number;
  /** Power-on APIC ID (default 0). */
  readonly apicId?: number;
  /** Called when "an interrupt is deliverable to the processor" changes. */
  readonly onOutput?: (level: boolean) => void;
  /** The 8259 PIC, asked for the vector of ExtINT requests. */
  readonly extInt?: InterruptSource;
  /** Hears EOIs of level-triggered vectors (the I/O APIC); also settable later. */
  readonly eoiListener?: ApicEoiListener;
  /** NMI to the processor (LINT1 in NMI mode, NMI messages and IPIs). */
  readonly onNmi?: () => void;
  /** INIT to the processor (INIT messages and IPIs, LINT in INIT mode). */
  readonly onInit?: () => void;
  /** IA32_APIC_BASE moved the register page to `newBase`. */
  readonly onRelocate?: (newBase: number) => void;
}

/** Saved state of the local APIC. */
export interface LocalApicState extends SavedState {
  readonly version: number;
  readonly baseAddress: number;
  readonly hardwareEnabled: boolean;
  readonly apicId: number;
  readonly tpr: number;
  readonly ldr: number;
  readonly dfr: number;
  readonly svr: number;
  readonly irr: number[];
  readonly isr: number[];
  readonly tmr: number[];
  /** Errors detected since the last ESR write. */
  readonly errorsPending: number;
  /** The readable ESR value (errors latched by the last ESR write). */
  readonly esr: number;
  readonly icrLow: number;
  readonly icrHigh: number;
  /** LVT entries by LvtIndex (remote IRR bits included). */
  readonly lvt: number[];
  readonly timerInitialCount: number;
  readonly timerDivideConfig: number;
  /** True while the timer counts (armed and, in one-shot mode, not yet expired). */
  readonly timerRunning: boolean;
  /** Guest time at which the count was `timerStartCount`. */
  readonly timerStartNs: number;
  readonly timerStartCount: number;
  /** Electrical levels of the LINT0 / LINT1 inputs. */
  readonly lint0Level: boolean;
  readonly lint1Level: boolean;
  readonly extIntMessagePending: boolean;
}

/** The local APIC of the one processor (see the module comment for the model). */
export class LocalApic implements MmioDevice, TimedDevice, ApicMessageSink, InterruptSource, ApicBaseMsr, Persist<LocalApicState> {
  readonly name: string;
  readonly persistId: string;
  private readonly clock: DeviceClock;
  private readonly timerHz: number;
  private readonly initialApicId: number;
  private readonly onOutput: ((level: boolean) => void) | undefined;
  private readonly extInt: InterruptSource | undefined;
  private eoiListener: ApicEoiListener | undefined;
  private readonly onNmi: (() => void) | undefined;
  private readonly onInit: (() => void) | undefined;
  private readonly onRelocate: ((newBase: number) => void) | undefined;

  private baseAddress = LAPIC_DEFAULT_BASE;
  private hwEnabled = true;
  private apicId = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = U32_MAX;
  private svr = LAPIC_SVR_RESET;
  private readonly irr = new Uint32Array(WORD_COUNT);
  private readonly isr = new Uint32Array(WORD_COUNT);
  private readonly tmr = new Uint32Array(WORD_COUNT);
  private errorsPending = 0;
  private esr = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt = new Uint32Array(LAPIC_LVT_COUNT);
  private timerInitialCount = 0;
  private timerDivideConfig = 0;
  private timerDivisorValue = 2;
  private timerRunning = false;
  private timerStartNs = 0;
  private timerStartCount = 0;
  private timerDeadlineNs = Infinity;
  private lint0Level = false;
  private lint1Level = false;
  private extIntMessagePending = false;
  /** Cached "an interrupt is deliverable" (what hasPending() returns). */
  private pending = false;

  private ignoredAccessCount = 0;
  private undeliverableIpiCount = 0;
  private unsupportedDeliveryCount = 0;
  private lostInterruptCount = 0;

  /** Create the APIC in its power-on state. */
  constructor(options: LocalApicOptions) {
    this.name = options.id ?? 'lapic';
    this.persistId = this.name;
    this.clock = options.clock;
    const timerHz = options.timerHz ?? LAPIC_DEFAULT_TIMER_HZ;
    if (!Number.isInteger(timerHz) || timerHz < 1 || timerHz > 1e12) {
      throw new RangeError(`${this.name}: timerHz must be an integer in 1..1e12, got ${timerHz}`);
    }
    this.timerHz = timerHz;
    const apicId = options.apicId ?? 0;
    if (!Number.isInteger(apicId) || apicId < 0 || apicId > 0xff) {
      throw new RangeError(`${this.name}: apicId must be an integer in 0..255, got ${apicId}`);
    }
    this.initialApicId = apicId;
    this.onOutput = options.onOutput;
    this.extInt = options.extInt;
    this.eoiListener = options.eoiListener;
    this.onNmi = options.onNmi;
    this.onInit = options.onInit;
    this.onRelocate = options.onRelocate;
    this.resetRegisters();
  }

  // ---- board side ----

  /** Power-on reset: registers and IA32_APIC_BASE to their reset values (input pin levels are kept). */
  reset(): void {
    this.resetRegisters();
    this.hwEnabled = true;
    this.setBase(LAPIC_DEFAULT_BASE);
    this.updateOutput();
  }

  /** Connect (or replace) the listener for level-triggered EOIs (the I/O APIC). */
  connectEoiListener(listener: ApicEoiListener): void {
    this.eoiListener = listener;
  }

  /** Program the state a PC BIOS leaves for virtual wire mode (see the module comment). */
  configureVirtualWire(): void {
    this.writeRegister(LAPIC_SVR, (this.svr & LAPIC_SVR_WRITABLE) | LAPIC_SVR_ENABLE);
    this.writeRegister(LAPIC_LVT_LINT0, ApicDelivery.ExtInt << 8);
    this.writeRegister(LAPIC_LVT_LINT1, ApicDelivery.Nmi << 8);
  }

  /** The 8259 PIC's INTR output (electrical level) on LINT0. */
  setLint0(level: boolean): void {
    this.setLint(LvtIndex.Lint0, level);
  }

  /** The LINT1 input (electrical level; NMI on a PC). */
  setLint1(level: boolean): void {
    this.setLint(LvtIndex.Lint1, level);
  }

  /** Physical base of the register page (IA32_APIC_BASE bits 31:12). */
  get base(): number {
    return this.baseAddress;
  }

  /** IA32_APIC_BASE bit 11: false = the processor has no usable APIC (CPUID.1:EDX.APIC = 0). */
  get hardwareEnabled(): boolean {
    return this.hwEnabled;
  }

  /** SVR bit 8. */
  get softwareEnabled(): boolean {
    return (this.svr & LAPIC_SVR_ENABLE) !== 0;
  }

  /** Register accesses that were ignored (narrow/unaligned writes, reserved or read-only registers, disabled APIC). */
  get ignoredAccesses(): number {
    return this.ignoredAccessCount;
  }

  /** IPIs that had no destination with one processor (all-excluding-self, unmatched destinations). */
  get undeliverableIpis(): number {
    return this.undeliverableIpiCount;
  }

  /** Deliveries of a kind this model does not perform (SMI, start-up, non-fixed self IPIs, missing NMI/INIT/PIC wiring). */
  get unsupportedDeliveries(): number {
    return this.unsupportedDeliveryCount;
  }

  /** Fixed/ExtINT interrupts dropped because the APIC was software-disabled. */
  get lostInterrupts(): number {
    return this.lostInterruptCount;
  }

  // ---- IA32_APIC_BASE (ApicBaseMsr) ----

  /** Low 32 bits of IA32_APIC_BASE. */
  readApicBaseMsr(): number {
    return (this.baseAddress | APIC_BASE_BSP | (this.hwEnabled ? APIC_BASE_ENABLE : 0)) >>> 0;
  }

  /** WRMSR 1Bh; false when reserved bits are set (the CPU raises #GP(0)). */
  writeApicBaseMsr(lo: number, hi: number): boolean {
    lo >>>= 0;
    if ((hi >>> 0) !== 0 || (lo & APIC_BASE_RESERVED) !== 0) return false;
    const enable = (lo & APIC_BASE_ENABLE) !== 0;
    if (this.hwEnabled && !enable) this.hardwareDisable();
    else if (!this.hwEnabled && enable) this.hwEnabled = true;
    this.setBase((lo & APIC_BASE_ADDRESS_MASK) >>> 0);
    this.updateOutput();
    return true;
  }

  private hardwareDisable(): void {
    this.resetRegisters();
    this.hwEnabled = false;
  }

  private setBase(base: number): void {
    if (base === this.baseAddress) return;
    this.baseAddress = base;
    this.onRelocate?.(base);
  }

  // ---- processor side (InterruptSource) ----

  /** True while an interrupt is deliverable to the processor (cached). */
  hasPending(): boolean {
    return this.pending;
  }

  /** Interrupt acknowledge: the vector of the request being served (spurious vector if it vanished). */
  acknowledge(): number {
    if (!this.hwEnabled) {
      if (this.extInt === undefined) return LAPIC_SVR_RESET;
      const vector = this.extInt.acknowledge();
      this.updateOutput();
      return vector;
    }
    if (this.extIntRequested()) {
      this.extIntMessagePending = false;
      const vector = this.extInt!.acknowledge();
      this.updateOutput();
      return vector;
    }
    const vector = highestBit(this.irr);
    if (vector >= 0 && vector >> 4 > this.processorPriority() >> 4) {
      clearBit(this.irr, vector);
      setBit(this.isr, vector);
      this.updateOutput();
      return vector;
    }
    return this.svr & LVT_VECTOR;
  }

  // ---- APIC bus (ApicMessageSink) ----

  /** An interrupt message from the I/O APIC; true when this APIC accepted it. */
  deliverMessage(vector: number, delivery: ApicDelivery, destinationMode: ApicDestinationMode, destination: number, levelTriggered: boolean): boolean {
    if (!this.hwEnabled || !this.matchesDestination(destinationMode, destination)) return false;
    return this.receive(vector & 0xff, delivery, levelTriggered);
  }

  /** Take one interrupt of `delivery` mode addressed to this APIC; false when it was not accepted. */
  private receive(vector: number, delivery: ApicDelivery, levelTriggered: boolean): boolean {
    switch (delivery) {
      case ApicDelivery.Fixed:
      case ApicDelivery.LowestPriority:
        return this.acceptFixed(vector, levelTriggered);
      case ApicDelivery.Nmi:
        return this.raiseNmi();
      case ApicDelivery.Init:
        if (this.onInit === undefined) return this.unsupported();
        this.onInit();
        return true;
      case ApicDelivery.ExtInt:
        if (!this.softwareEnabled) return this.lose();
        if (this.extInt === undefined) return this.unsupported();
        this.extIntMessagePending = true;
        this.updateOutput();
        return true;
      default:
        return this.unsupported();
    }
  }

  /** A fixed interrupt into IRR (TMR set for level, cleared for edge). */
  private acceptFixed(vector: number, levelTriggered: boolean): boolean {
    if (!this.softwareEnabled) return this.lose();
    if (vector < FIRST_LEGAL_VECTOR) {
      this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    setBit(this.irr, vector);
    if (levelTriggered) setBit(this.tmr, vector);
    else clearBit(this.tmr, vector);
    this.updateOutput();
    return true;
  }

  private raiseNmi(): boolean {
    if (this.onNmi === undefined) return this.unsupported();
    this.onNmi();
    return true;
  }

  private lose(): boolean {
    this.lostInterruptCount++;
    return false;
  }

  private unsupported(): boolean {
    this.unsupportedDeliveryCount++;
    return false;
  }

  /** Physical: own ID or broadcast; logical: LDR/DFR flat or cluster match. */
  private matchesDestination(mode: ApicDestinationMode, destination: number): boolean {
    destination &= 0xff;
    if (mode === ApicDestinationMode.Physical) return destination === BROADCAST_DESTINATION || destination === this.apicId;
    const logicalId = this.ldr >>> 24;
    if (this.dfr >>> 28 === DFR_MODEL_FLAT) return (destination & logicalId) !== 0;
    const cluster = destination >> 4;
    return (cluster === 0xf || cluster === logicalId >> 4) && (destination & logicalId & 0xf) !== 0;
  }

  // ---- TimedDevice ----

  /** Guest time of the next timer expiry, or Infinity (stopped or LVT timer masked). */
  nextEventNs(): number {
    return (this.lvt[LvtIndex.Timer]! & LVT_MASKED) !== 0 ? Infinity : this.timerDeadlineNs;
  }

  /** Act on a timer expiry due by `nowNs`: raise the timer vector, reload in periodic mode. */
  advanceTo(nowNs: number): void {
    if (!this.timerRunning || nowNs < this.timerDeadlineNs) return;
    const deadline = this.timerDeadlineNs;
    const lvt = this.lvt[LvtIndex.Timer]!;
    if ((lvt & LVT_TIMER_PERIODIC) !== 0) {
      const periodNs = this.timerNsForCount(this.timerInitialCount);
      const extraPeriods = Math.floor((nowNs - deadline) / periodNs);
      this.timerStartNs = deadline + extraPeriods * periodNs;
      this.timerStartCount = this.timerInitialCount;
      this.timerDeadlineNs = this.timerStartNs + periodNs;
    } else {
      this.stopTimer();
    }
    if ((lvt & LVT_MASKED) === 0) this.acceptFixed(lvt & LVT_VECTOR, false);
  }

  /** Timer current count at guest time `nowNs`. */
  private timerCurrentCount(nowNs: number): number {
    if (!this.timerRunning) return 0;
    const elapsed = this.timerTicksSince(this.timerStartNs, nowNs);
    if (elapsed < this.timerStartCount) return this.timerStartCount - elapsed;
    if ((this.lvt[LvtIndex.Timer]! & LVT_TIMER_PERIODIC) === 0) return 0;
    return this.timerInitialCount - ((elapsed - this.timerStartCount) % this.timerInitialCount);
  }

  /** Whole timer ticks (after the divider) between `startNs` and `nowNs`. */
  private timerTicksSince(startNs: number, nowNs: number): number {
    const ns = nowNs - startNs;
    if (ns <= 0) return 0;
    const busTicks = this.timerHz === NS_PER_SECOND ? ns : mulDivFloor(ns, this.timerHz, NS_PER_SECOND);
    return Math.floor(busTicks / this.timerDivisorValue);
  }

  /** Nanoseconds for `count` timer ticks at the current divider (rounded up). */
  private timerNsForCount(count: number): number {
    const busTicks = count * this.timerDivisorValue;
    return this.timerHz === NS_PER_SECOND ? busTicks : mulDivCeil(busTicks, NS_PER_SECOND, this.timerHz);
  }

  /** Start counting down from `count` now. */
  private startTimer(count: number, nowNs: number): void {
    this.timerRunning = true;
    this.timerStartNs = nowNs;
    this.timerStartCount = count;
    this.timerDeadlineNs = nowNs + this.timerNsForCount(count);
    this.clock.reschedule();
  }

  private stopTimer(): void {
    this.timerRunning = false;
    this.timerDeadlineNs = Infinity;
  }

  private writeTimerInitial(value: number, nowNs: number): void {
    this.timerInitialCount = value;
    if (value === 0) this.stopTimer();
    else this.startTimer(value, nowNs);
  }

  private writeTimerDivide(value: number, nowNs: number): void {
    const current = this.timerCurrentCount(nowNs);
    this.timerDivideConfig = value & TIMER_DIVIDE_WRITABLE;
    this.timerDivisorValue = timerDivisor(this.timerDivideConfig);
    if (this.timerRunning && current > 0) this.startTimer(current, nowNs);
  }

  // ---- LINT inputs ----

  private setLint(index: LvtIndex.Lint0 | LvtIndex.Lint1, level: boolean): void {
    const before = this.lintAsserted(index);
    if (index === LvtIndex.Lint0) this.lint0Level = level;
    else this.lint1Level = level;
    const after = this.lintAsserted(index);
    if (!this.hwEnabled) {
      // No APIC: LINT0 is INTR, LINT1 is NMI.
      if (index === LvtIndex.Lint1 && level && !before) this.raiseNmi();
      this.updateOutput();
      return;
    }
    if (after && !before) this.lintAsserting(index);
    else if (after) this.lintLevelCheck(index);
    this.updateOutput();
  }

  /** Input level after the LVT polarity bit (the raw level when the APIC is hardware-disabled). */
  private lintAsserted(index: LvtIndex.Lint0 | LvtIndex.Lint1): boolean {
    const level = index === LvtIndex.Lint0 ? this.lint0Level : this.lint1Level;
    if (!this.hwEnabled) return level;
    return level !== ((this.lvt[index]! & LVT_ACTIVE_LOW) !== 0);
  }

  /** An asserting edge on a LINT input. */
  private lintAsserting(index: LvtIndex.Lint0 | LvtIndex.Lint1): void {
    const lvt = this.lvt[index]!;
    if ((lvt & LVT_MASKED) !== 0) return;
    switch (((lvt & LVT_DELIVERY_MODE) >> 8) as ApicDelivery) {
      case ApicDelivery.Fixed:
        if ((lvt & LVT_LEVEL_TRIGGERED) !== 0) this.lintLevelCheck(index);
        else this.acceptFixed(lvt & LVT_VECTOR, false);
        return;
      case ApicDelivery.Nmi:
        this.raiseNmi();
        return;
      case ApicDelivery.Init:
        this.receive(0, ApicDelivery.Init, false);
        return;
      case ApicDelivery.ExtInt:
        return; // level-sensitive: seen by updateOutput()
      default:
        this.unsupported();
    }
  }

  /** A level-triggered fixed LINT input: raise it while asserted and remote IRR is clear. */
  private lintLevelCheck(index: LvtIndex.Lint0 | LvtIndex.Lint1): void {
    const lvt = this.lvt[index]!;
    const fixedLevel = (lvt & (LVT_MASKED | LVT_DELIVERY_MODE | LVT_LEVEL_TRIGGERED)) === LVT_LEVEL_TRIGGERED;
    if (!fixedLevel || (lvt & LVT_REMOTE_IRR) !== 0 || !this.lintAsserted(index)) return;
    if (this.acceptFixed(lvt & LVT_VECTOR, true)) this.lvt[index] = lvt | LVT_REMOTE_IRR;
  }

  /** True when the PIC's request is to be served through ExtINT. */
  private extIntRequested(): boolean {
    if (this.extInt === undefined) return false;
    if (this.extIntMessagePending) return true;
    const lint0 = this.lvt[LvtIndex.Lint0]!;
    return (lint0 & (LVT_MASKED | LVT_DELIVERY_MODE)) === ApicDelivery.ExtInt << 8 && this.lintAsserted(LvtIndex.Lint0);
  }

  // ---- priorities and output ----

  /** PPR (§11.8.3.1): TPR if its class is at least the highest in-service class, else that class. */
  private processorPriority(): number {
    const isrv = Math.max(highestBit(this.isr), 0);
    return this.tpr >> 4 >= isrv >> 4 ? this.tpr : isrv & 0xf0;
  }

  /** APR (§11.8.3.1 "Arbitration Priority"). */
  private arbitrationPriority(): number {
    const isrv = Math.max(highestBit(this.isr), 0);
    const irrv = Math.max(highestBit(this.irr), 0);
    if (this.tpr >> 4 >= Math.max(isrv >> 4, irrv >> 4)) return this.tpr;
    return Math.max(this.tpr & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  private computePending(): boolean {
    if (!this.hwEnabled) return this.extInt !== undefined && this.lint0Level;
    if (this.extIntRequested()) return true;
    const vector = highestBit(this.irr);
    return vector >= 0 && vector >> 4 > this.processorPriority() >> 4;
  }

  /** Recompute the output and tell the board when it changed. */
  private updateOutput(): void {
    const pending = this.computePending();
    if (pending === this.pending) return;
    this.pending = pending;
    this.onOutput?.(pending);
  }

  // ---- EOI and errors ----

  private endOfInterrupt(): void {
    const vector = highestBit(this.isr);
    if (vector < 0) return;
    clearBit(this.isr, vector);
    const level = testBit(this.tmr, vector);
    if (level) {
      this.rearmLint(LvtIndex.Lint0, vector);
      this.rearmLint(LvtIndex.Lint1, vector);
    }
    this.updateOutput();
    if (level) this.eoiListener?.endOfInterrupt(vector);
  }

  /** EOI of a level LINT vector: clear its remote IRR and raise it again if still asserted. */
  private rearmLint(index: LvtIndex.Lint0 | LvtIndex.Lint1, vector: number): void {
    const lvt = this.lvt[index]!;
    if ((lvt & LVT_REMOTE_IRR) === 0 || (lvt & LVT_VECTOR) !== vector) return;
    this.lvt[index] = lvt & ~LVT_REMOTE_IRR;
    this.lintLevelCheck(index);
  }

  /** Record an error; a newly set bit raises the LVT error interrupt. */
  private signalError(bit: number): void {
    if ((this.errorsPending & bit) !== 0) return;
    this.errorsPending |= bit;
    const lvt = this.lvt[LvtIndex.Error]!;
    if ((lvt & LVT_MASKED) === 0) this.acceptFixed(lvt & LVT_VECTOR, false);
  }

  // ---- ICR ----

  private sendIpi(): void {
    const low = this.icrLow;
    const vector = low & LVT_VECTOR;
    const delivery = ((low & LVT_DELIVERY_MODE) >> 8) as ApicDelivery;
    const fixed = delivery === ApicDelivery.Fixed || delivery === ApicDelivery.LowestPriority;
    if (fixed && vector < FIRST_LEGAL_VECTOR) {
      this.signalError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (delivery === ApicDelivery.Init && (low & ICR_LEVEL_ASSERT) === 0) return; // INIT level de-assert
    switch (((low >>> ICR_SHORTHAND_SHIFT) & 3) as IcrShorthand) {
      case IcrShorthand.Self:
        if (delivery !== ApicDelivery.Fixed) this.unsupported();
        else this.receive(vector, delivery, false);
        return;
      case IcrShorthand.AllIncludingSelf:
        this.receive(vector, delivery, false);
        return;
      case IcrShorthand.AllExcludingSelf:
        this.undeliverableIpiCount++;
        return;
      default: {
        const mode = (low & ICR_LOGICAL) !== 0 ? ApicDestinationMode.Logical : ApicDestinationMode.Physical;
        if (this.matchesDestination(mode, this.icrHigh >>> 24)) this.receive(vector, delivery, false);
        else this.undeliverableIpiCount++;
      }
    }
  }

  // ---- MMIO ----

  /** Read from the register page. */
  mmioRead(offset: number, size: AccessSize): number {
    if (!this.hwEnabled) {
      this.ignoredAccessCount++;
      return U32_MAX;
    }
    const slotByte = offset & 0xf;
    if (slotByte >= 4) return 0;
    const value = this.readRegister(offset & 0xff0);
    const shifted = value >>> (slotByte * 8);
    return size === 4 ? shifted >>> 0 : shifted & (size === 1 ? 0xff : 0xffff);
  }

  /** Write to the register page: aligned 32-bit writes only (others ignored and counted). */
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (!this.hwEnabled || size !== 4 || (offset & 0xf) !== 0) {
      this.ignoredAccessCount++;
      return;
    }
    this.writeRegister(offset, value >>> 0);
  }

  /** Read one 32-bit register at a 16-byte-aligned offset. */
  private readRegister(offset: number): number {
    if (offset >= LAPIC_ISR && offset < LAPIC_ISR + 0x80) return this.isr[(offset - LAPIC_ISR) >> 4]!;
    if (offset >= LAPIC_TMR && offset < LAPIC_TMR + 0x80) return this.tmr[(offset - LAPIC_TMR) >> 4]!;
    if (offset >= LAPIC_IRR && offset < LAPIC_IRR + 0x80) return this.irr[(offset - LAPIC_IRR) >> 4]!;
    if (offset >= LAPIC_LVT_TIMER && offset <= LAPIC_LVT_ERROR) return this.lvt[(offset - LAPIC_LVT_TIMER) >> 4]!;
    switch (offset) {
      case LAPIC_ID:
        return (this.apicId << 24) >>> 0;
      case LAPIC_VERSION:
        return LAPIC_VERSION_VALUE;
      case LAPIC_TPR:
        return this.tpr;
      case LAPIC_APR:
        return this.arbitrationPriority();
      case LAPIC_PPR:
        return this.processorPriority();
      case LAPIC_EOI:
      case LAPIC_RRD:
        return 0;
      case LAPIC_LDR:
        return this.ldr;
      case LAPIC_DFR:
        return (this.dfr | DFR_RESERVED_ONES) >>> 0;
      case LAPIC_SVR:
        return this.svr;
      case LAPIC_ESR:
        return this.esr;
      case LAPIC_ICR_LOW:
        return this.icrLow;
      case LAPIC_ICR_HIGH:
        return this.icrHigh;
      case LAPIC_TIMER_INITIAL:
        return this.timerInitialCount;
      case LAPIC_TIMER_CURRENT:
        return this.timerCurrentCount(this.clock.nowNs());
      case LAPIC_TIMER_DIVIDE:
        return this.timerDivideConfig;
      default:
        this.reservedAccess();
        return 0;
    }
  }

  /** Write one 32-bit register at a 16-byte-aligned offset. */
  private writeRegister(offset: number, value: number): void {
    const nowNs = this.clock.nowNs();
    this.advanceTo(nowNs); // a due expiry happens before the write changes the timer
    if (offset >= LAPIC_LVT_TIMER && offset <= LAPIC_LVT_ERROR) {
      this.writeLvt((offset - LAPIC_LVT_TIMER) >> 4, value);
    } else {
      this.writeOtherRegister(offset, value, nowNs);
    }
    this.updateOutput();
  }

  private writeOtherRegister(offset: number, value: number, nowNs: number): void {
    switch (offset) {
      case LAPIC_ID:
        this.apicId = value >>> 24;
        return;
      case LAPIC_TPR:
        this.tpr = value & 0xff;
        return;
      case LAPIC_EOI:
        this.endOfInterrupt();
        return;
      case LAPIC_LDR:
        this.ldr = (value & LDR_WRITABLE) >>> 0;
        return;
      case LAPIC_DFR:
        this.dfr = ((value & DFR_WRITABLE) | DFR_RESERVED_ONES) >>> 0;
        return;
      case LAPIC_SVR:
        this.writeSvr(value);
        return;
      case LAPIC_ESR:
        this.esr = this.errorsPending;
        this.errorsPending = 0;
        return;
      case LAPIC_ICR_LOW:
        this.icrLow = value & ICR_LOW_WRITABLE;
        this.sendIpi();
        return;
      case LAPIC_ICR_HIGH:
        this.icrHigh = (value & ICR_HIGH_WRITABLE) >>> 0;
        return;
      case LAPIC_TIMER_INITIAL:
        this.writeTimerInitial(value, nowNs);
        return;
      case LAPIC_TIMER_DIVIDE:
        this.writeTimerDivide(value, nowNs);
        return;
      case LAPIC_VERSION:
      case LAPIC_APR:
      case LAPIC_PPR:
      case LAPIC_RRD:
      case LAPIC_TIMER_CURRENT:
        this.ignoredAccessCount++; // read-only
        return;
      default:
        if (offset >= LAPIC_ISR && offset < LAPIC_IRR + 0x80) this.ignoredAccessCount++; // ISR/TMR/IRR read-only
        else this.reservedAccess();
    }
  }

  private reservedAccess(): void {
    this.ignoredAccessCount++;
    this.signalError(ESR_ILLEGAL_REGISTER);
  }

  private writeSvr(value: number): void {
    this.svr = value & LAPIC_SVR_WRITABLE;
    if (this.softwareEnabled) return;
    for (let i = 0; i < LAPIC_LVT_COUNT; i++) this.lvt[i] = this.lvt[i]! | LVT_MASKED;
  }

  private writeLvt(index: number, value: number): void {
    const wasMasked = (this.lvt[index]! & LVT_MASKED) !== 0;
    let entry = (value & LVT_WRITABLE[index]!) | (this.lvt[index]! & LVT_STATE_BITS[index]!);
    if (!this.softwareEnabled) entry |= LVT_MASKED;
    if ((entry & LVT_LEVEL_TRIGGERED) === 0) entry &= ~LVT_REMOTE_IRR;
    this.lvt[index] = entry >>> 0;
    if (index === LvtIndex.Lint0 || index === LvtIndex.Lint1) this.lintLevelCheck(index as LvtIndex.Lint0 | LvtIndex.Lint1);
    if (index === LvtIndex.Timer && wasMasked && (entry & LVT_MASKED) === 0 && this.timerRunning) this.clock.reschedule();
  }

  // ---- reset ----

  /** Power-on values of every register (SDM §11.4.7.1); the timer stops. */
  private resetRegisters(): void {
    this.apicId = this.initialApicId;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = U32_MAX;
    this.svr = LAPIC_SVR_RESET;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.errorsPending = 0;
    this.esr = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt.fill(LVT_MASKED);
    this.timerInitialCount = 0;
    this.timerDivideConfig = 0;
    this.timerDivisorValue = timerDivisor(0);
    this.stopTimer();
    this.timerStartNs = 0;
    this.timerStartCount = 0;
    this.extIntMessagePending = false;
  }

  // ---- Persist ----

  /** Capture all register, timer and input state. */
  save(): LocalApicState {
    return {
      version: LAPIC_STATE_VERSION,
      baseAddress: this.baseAddress,
      hardwareEnabled: this.hwEnabled,
      apicId: this.apicId,
      tpr: this.tpr,
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      irr: Array.from(this.irr),
      isr: Array.from(this.isr),
      tmr: Array.from(this.tmr),
      errorsPending: this.errorsPending,
      esr: this.esr,
      icrLow: this.icrLow,
      icrHigh: this.icrHigh,
      lvt: Array.from(this.lvt),
      timerInitialCount: this.timerInitialCount,
      timerDivideConfig: this.timerDivideConfig,
      timerRunning: this.timerRunning,
      timerStartNs: this.timerStartNs,
      timerStartCount: this.timerStartCount,
      lint0Level: this.lint0Level,
      lint1Level: this.lint1Level,
      extIntMessagePending: this.extIntMessagePending,
    };
  }

  /** Validate `state` completely, then apply it; the output is re-driven and the board re-plans the timer. */
  restore(state: unknown): void {
    const s = this.validateState(state);
    this.hwEnabled = s.hardwareEnabled;
    this.apicId = s.apicId;
    this.tpr = s.tpr;
    this.ldr = s.ldr;
    this.dfr = s.dfr;
    this.svr = s.svr;
    this.irr.set(s.irr);
    this.isr.set(s.isr);
    this.tmr.set(s.tmr);
    this.errorsPending = s.errorsPending;
    this.esr = s.esr;
    this.icrLow = s.icrLow;
    this.icrHigh = s.icrHigh;
    this.lvt.set(s.lvt);
    this.timerInitialCount = s.timerInitialCount;
    this.timerDivideConfig = s.timerDivideConfig;
    this.timerDivisorValue = timerDivisor(s.timerDivideConfig);
    this.timerRunning = s.timerRunning;
    this.timerStartNs = s.timerStartNs;
    this.timerStartCount = s.timerStartCount;
    this.timerDeadlineNs = s.timerRunning ? s.timerStartNs + this.timerNsForCount(s.timerStartCount) : Infinity;
    this.lint0Level = s.lint0Level;
    this.lint1Level = s.lint1Level;
    this.extIntMessagePending = s.extIntMessagePending;
    this.setBase(s.baseAddress);
    this.updateOutput();
    this.clock.reschedule();
  }

  /** Check every field of untrusted state; throws StateError naming the bad field. */
  private validateState(state: unknown): LocalApicState {
    const r = new StateReader(this.persistId, state);
    const version = r.version([LAPIC_STATE_VERSION]);
    const fail = (field: string, problem: string): never => {
      throw new StateError(this.persistId, field, problem);
    };
    const baseAddress = r.int('baseAddress', 0, APIC_BASE_ADDRESS_MASK);
    if (baseAddress % 0x1000 !== 0) fail('baseAddress', `${baseAddress} is not 4 KiB aligned`);
    const svr = r.int('svr', 0, LAPIC_SVR_WRITABLE);
    const irr = this.readVectorWords(r, 'irr');
    const isr = this.readVectorWords(r, 'isr');
    const tmr = r.ints('tmr', 0, U32_MAX, WORD_COUNT, WORD_COUNT);
    const lvt = r.ints('lvt', 0, U32_MAX, LAPIC_LVT_COUNT, LAPIC_LVT_COUNT);
    for (let i = 0; i < LAPIC_LVT_COUNT; i++) {
      const allowed = LVT_WRITABLE[i]! | LVT_STATE_BITS[i]!;
      if ((lvt[i]! & ~allowed) !== 0) fail(`lvt[${i}]`, `bits ${lvt[i]!.toString(16)} outside ${allowed.toString(16)}`);
      if ((svr & LAPIC_SVR_ENABLE) === 0 && (lvt[i]! & LVT_MASKED) === 0) fail(`lvt[${i}]`, 'unmasked while the APIC is software-disabled');
    }
    const errorsPending = r.int('errorsPending', 0, ESR_KNOWN_BITS);
    const esr = r.int('esr', 0, ESR_KNOWN_BITS);
    const ldr = r.int('ldr', 0, U32_MAX);
    if ((ldr & ~LDR_WRITABLE) !== 0) fail('ldr', 'bits outside 31:24');
    const dfr = r.int('dfr', 0, U32_MAX);
    if ((dfr & DFR_RESERVED_ONES) !== DFR_RESERVED_ONES) fail('dfr', 'bits 27:0 must be all ones');
    const icrLow = r.int('icrLow', 0, ICR_LOW_WRITABLE);
    if ((icrLow & ~ICR_LOW_WRITABLE) !== 0) fail('icrLow', 'reserved bits set');
    const icrHigh = r.int('icrHigh', 0, U32_MAX);
    if ((icrHigh & ~ICR_HIGH_WRITABLE) !== 0) fail('icrHigh', 'bits outside 31:24');
    const timerDivideConfig = r.int('timerDivideConfig', 0, TIMER_DIVIDE_WRITABLE);
    if ((timerDivideConfig & ~TIMER_DIVIDE_WRITABLE) !== 0) fail('timerDivideConfig', 'bit 2 set');
    const timerInitialCount = r.int('timerInitialCount', 0, U32_MAX);
    const timerRunning = r.bool('timerRunning');
    const timerStartNs = r.int('timerStartNs', 0, Number.MAX_SAFE_INTEGER);
    const timerStartCount = r.int('timerStartCount', 0, U32_MAX);
    if (timerRunning && timerInitialCount === 0) fail('timerRunning', 'running with an initial count of 0');
    if (timerRunning && timerStartCount === 0) fail('timerStartCount', 'running from a count of 0');
    const hardwareEnabled = r.bool('hardwareEnabled');
    const extIntMessagePending = r.bool('extIntMessagePending');
    return {
      version,
      baseAddress,
      hardwareEnabled,
      apicId: r.int('apicId', 0, 0xff),
      tpr: r.int('tpr', 0, 0xff),
      ldr,
      dfr,
      svr,
      irr,
      isr,
      tmr: [...tmr],
      errorsPending,
      esr,
      icrLow,
      icrHigh,
      lvt: [...lvt],
      timerInitialCount,
      timerDivideConfig,
      timerRunning,
      timerStartNs,
      timerStartCount,
      lint0Level: r.bool('lint0Level'),
      lint1Level: r.bool('lint1Level'),
      extIntMessagePending,
    };
  }

  /** An IRR/ISR bitmap: 8 words, vectors 0-15 never set. */
  private readVectorWords(r: StateReader, field: string): number[] {
    const words = r.ints(field, 0, U32_MAX, WORD_COUNT, WORD_COUNT);
    if ((words[0]! & 0xffff) !== 0) throw new StateError(this.persistId, `${field}[0]`, 'vectors 0-15 cannot be pending or in service');
    return [...words];
  }
}

// ---- 256-bit vector bitmaps (8 × 32-bit words) ----

/** Highest set vector in `words`, or -1. */
function highestBit(words: Uint32Array): number {
  for (let w = WORD_COUNT - 1; w >= 0; w--) {
    const word = words[w]!;
    if (word !== 0) return w * 32 + 31 - Math.clz32(word);
  }
  return -1;
}

function setBit(words: Uint32Array, vector: number): void {
  words[vector >> 5] = words[vector >> 5]! | (1 << (vector & 31));
}

function clearBit(words: Uint32Array, vector: number): void {
  words[vector >> 5] = words[vector >> 5]! & ~(1 << (vector & 31));
}

function testBit(words: Uint32Array, vector: number): boolean {
  return (words[vector >> 5]! & (1 << (vector & 31))) !== 0;
}
