/**
 * I/O APIC after the Intel 82093AA datasheet (§3 "Register Description"): 24 interrupt
 * input pins, each with a 64-bit redirection table entry that turns the pin's signal into
 * an interrupt message on the APIC bus (src/bus/apic-bus.ts). Two memory-mapped registers
 * at the base the board chooses (0xFEC00000 on a PC):
 *
 *   0x00 IOREGSEL  bits 7:0 select an indirect register
 *   0x10 IOWIN     reads/writes the selected register
 *
 * Indirect registers: 00h ID (bits 27:24, R/W), 01h version (0x00170011: version 11h,
 * maximum redirection entry 17h = 23), 02h arbitration ID (bits 27:24, read-only),
 * 10h-3Fh redirection table (entry n: low dword 10h+2n, high dword 11h+2n).
 * Redirection entry: vector 7:0, delivery mode 10:8, destination mode 11, delivery status
 * 12 (read-only), polarity 13 (1 = active low), remote IRR 14 (read-only), trigger mode 15
 * (1 = level), mask 16, destination 63:56.
 *
 * Model choices:
 * - Messages are delivered at once through the `ApicMessageSink` (the local APIC), so
 *   delivery status always reads idle. A message no local APIC accepts is counted in
 *   `undeliveredMessages` and dropped.
 * - `setPin(pin, level)` takes the pin's electrical level; the polarity bit inverts it
 *   (an active-low pin is asserted while its level is low). An input is edge-detected on
 *   changes of the pin level only: rewriting the polarity of a static pin makes no edge.
 * - Edge-triggered entries send one message per asserting edge while unmasked; an edge
 *   that arrives while the entry is masked is lost (unmasking does not replay it).
 * - Level-triggered entries with fixed or lowest-priority delivery send while the pin is
 *   asserted, the entry unmasked and remote IRR clear; remote IRR is set when a local
 *   APIC accepts the message and cleared by an EOI for the entry's vector
 *   (`endOfInterrupt`), after which a still-asserted pin sends again. Unmasking, or any
 *   other write to such an entry, re-evaluates it, so an asserted pin delivers on unmask.
 *   Writing the trigger mode to edge clears remote IRR (Linux uses this to clear a stuck
 *   remote IRR on I/O APICs without an EOI register).
 * - NMI, SMI, INIT and ExtINT entries are edge-triggered whatever the trigger bit says
 *   (the datasheet requires edge mode for them).
 * - The arbitration ID is loaded with the ID whenever the ID register is written (the
 *   datasheet loads both with the same data), so it always equals the ID here.
 * - Power-on: ID = `apicId` option (default 0, the chip's reset value; the board passes
 *   the ID it puts in the MP table, as a BIOS would program it), IOREGSEL 0, every entry
 *   masked with all other fields 0. Pin levels are inputs and survive reset().
 * - IOREGSEL accepts any access size (bits 7:0 used). IOWIN reads of 1 or 2 bytes return
 *   the selected register's bytes; narrower writes merge into it. Reserved offsets and
 *   unimplemented indirect registers read 0 and ignore writes (counted).
 * - Diagnostic counters are not part of the saved state.
 */

import { ApicDelivery, ApicDestinationMode, type ApicEoiListener, type ApicMessageSink } from '../../bus/apic-bus.js';
import type { AccessSize } from '../../bus/io-bus.js';
import type { MmioDevice } from '../../bus/mmio-bus.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';

/** Default physical base of the I/O APIC on a PC. */
export const IOAPIC_DEFAULT_BASE = 0xfec00000;
/** Size of the register window the board maps (one 4 KiB page). */
export const IOAPIC_MMIO_SIZE = 0x1000;
/** IOREGSEL offset. */
export const IOAPIC_IOREGSEL = 0x00;
/** IOWIN offset. */
export const IOAPIC_IOWIN = 0x10;

/** Indirect register: ID. */
export const IOAPIC_REG_ID = 0x00;
/** Indirect register: version. */
export const IOAPIC_REG_VERSION = 0x01;
/** Indirect register: arbitration ID. */
export const IOAPIC_REG_ARBITRATION = 0x02;
/** Indirect register: first redirection table dword. */
export const IOAPIC_REG_REDIRECTION = 0x10;

/** Number of input pins. */
export const IOAPIC_PIN_COUNT = 24;
/** Version register value: maximum redirection entry 23, version 11h. */
export const IOAPIC_VERSION_VALUE = 0x00170011;

/** Entry bits 7:0: vector. */
export const IOAPIC_VECTOR = 0xff;
/** Entry bits 10:8: delivery mode. */
export const IOAPIC_DELIVERY_MODE = 0x700;
/** Entry bit 11: logical destination mode. */
export const IOAPIC_LOGICAL = 0x800;
/** Entry bit 12: delivery status (read-only, always idle). */
export const IOAPIC_DELIVERY_STATUS = 0x1000;
/** Entry bit 13: input active low. */
export const IOAPIC_ACTIVE_LOW = 0x2000;
/** Entry bit 14: remote IRR (read-only). */
export const IOAPIC_REMOTE_IRR = 0x4000;
/** Entry bit 15: level-triggered. */
export const IOAPIC_LEVEL_TRIGGERED = 0x8000;
/** Entry bit 16: masked. */
export const IOAPIC_MASKED = 0x10000;
/** Entry high dword bits 31:24: destination. */
export const IOAPIC_DESTINATION_SHIFT = 24;

const ENTRY_LOW_WRITABLE = IOAPIC_VECTOR | IOAPIC_DELIVERY_MODE | IOAPIC_LOGICAL | IOAPIC_ACTIVE_LOW | IOAPIC_LEVEL_TRIGGERED | IOAPIC_MASKED;
const ENTRY_HIGH_WRITABLE = 0xff000000;
const ID_SHIFT = 24;
const ID_MASK = 0xf;
const ALL_PINS = (1 << IOAPIC_PIN_COUNT) - 1;
const IOAPIC_STATE_VERSION = 1;

/** Options the board gives the I/O APIC. */
export interface IoApicOptions {
  /** Persist id and device name (default "ioapic"). */
  readonly id?: string;
  /** Where messages go (the local APIC). */
  readonly sink: ApicMessageSink;
  /** ID after reset (0..15, default 0). */
  readonly apicId?: number;
}

/** Saved state of the I/O APIC. */
export interface IoApicState extends SavedState {
  readonly version: number;
  readonly ioregsel: number;
  readonly apicId: number;
  /** Low dwords of the 24 entries (remote IRR included). */
  readonly redirectionLow: number[];
  /** High dwords of the 24 entries. */
  readonly redirectionHigh: number[];
  /** Electrical pin levels, bit n = pin n. */
  readonly pinLevels: number;
}

/** An 82093AA-style I/O APIC (see the module comment for the model). */
export class IoApic implements MmioDevice, ApicEoiListener, Persist<IoApicState> {
  readonly name: string;
  readonly persistId: string;
  private readonly sink: ApicMessageSink;
  private readonly initialId: number;

  private ioregsel = 0;
  private apicId = 0;
  private readonly low = new Uint32Array(IOAPIC_PIN_COUNT);
  private readonly high = new Uint32Array(IOAPIC_PIN_COUNT);
  private pinLevels = 0;

  private ignoredAccessCount = 0;
  private undeliveredCount = 0;

  /** Create the I/O APIC in its power-on state (every entry masked). */
  constructor(options: IoApicOptions) {
    this.name = options.id ?? 'ioapic';
    this.persistId = this.name;
    this.sink = options.sink;
    const apicId = options.apicId ?? 0;
    if (!Number.isInteger(apicId) || apicId < 0 || apicId > ID_MASK) {
      throw new RangeError(`${this.name}: apicId must be an integer in 0..15, got ${apicId}`);
    }
    this.initialId = apicId;
    this.reset();
  }

  /** Power-on state: ID from the options, IOREGSEL 0, every entry masked (pin levels kept). */
  reset(): void {
    this.ioregsel = 0;
    this.apicId = this.initialId;
    this.low.fill(IOAPIC_MASKED);
    this.high.fill(0);
  }

  /** Accesses to reserved offsets or unimplemented registers (ignored). */
  get ignoredAccesses(): number {
    return this.ignoredAccessCount;
  }

  /** Messages no local APIC accepted. */
  get undeliveredMessages(): number {
    return this.undeliveredCount;
  }

  // ---- inputs ----

  /** Drive input `pin` (0..23) to electrical `level`. */
  setPin(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PIN_COUNT) {
      throw new RangeError(`${this.name}: pin must be an integer in 0..${IOAPIC_PIN_COUNT - 1}, got ${pin}`);
    }
    const bit = 1 << pin;
    const was = (this.pinLevels & bit) !== 0;
    if (was === level) return;
    this.pinLevels = level ? this.pinLevels | bit : this.pinLevels & ~bit;
    const entry = this.low[pin]!;
    if ((entry & IOAPIC_MASKED) !== 0 || !this.isAsserted(pin)) return;
    if (this.isLevelEntry(entry)) this.deliverLevel(pin);
    else this.send(pin);
  }

  /** The guest ended level-triggered `vector` at a local APIC: clear remote IRR, re-deliver if still asserted. */
  endOfInterrupt(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PIN_COUNT; pin++) {
      const entry = this.low[pin]!;
      if ((entry & IOAPIC_REMOTE_IRR) === 0 || (entry & IOAPIC_VECTOR) !== vector) continue;
      this.low[pin] = entry & ~IOAPIC_REMOTE_IRR;
      this.deliverLevel(pin);
    }
  }

  /** Pin asserted after the polarity inversion. */
  private isAsserted(pin: number): boolean {
    const level = (this.pinLevels & (1 << pin)) !== 0;
    return level !== ((this.low[pin]! & IOAPIC_ACTIVE_LOW) !== 0);
  }

  /** Level semantics apply to fixed and lowest-priority entries with the level bit. */
  private isLevelEntry(entry: number): boolean {
    if ((entry & IOAPIC_LEVEL_TRIGGERED) === 0) return false;
    const delivery = (entry & IOAPIC_DELIVERY_MODE) >> 8;
    return delivery === ApicDelivery.Fixed || delivery === ApicDelivery.LowestPriority;
  }

  /** Send a level entry's message if it is asserted, unmasked and not awaiting EOI. */
  private deliverLevel(pin: number): void {
    const entry = this.low[pin]!;
    if ((entry & (IOAPIC_MASKED | IOAPIC_REMOTE_IRR)) !== 0 || !this.isLevelEntry(entry) || !this.isAsserted(pin)) return;
    if (this.send(pin)) this.low[pin] = this.low[pin]! | IOAPIC_REMOTE_IRR;
  }

  /** Send pin's message; true when a local APIC accepted it. */
  private send(pin: number): boolean {
    const entry = this.low[pin]!;
    const mode = (entry & IOAPIC_LOGICAL) !== 0 ? ApicDestinationMode.Logical : ApicDestinationMode.Physical;
    const delivery = ((entry & IOAPIC_DELIVERY_MODE) >> 8) as ApicDelivery;
    const accepted = this.sink.deliverMessage(entry & IOAPIC_VECTOR, delivery, mode, this.high[pin]! >>> IOAPIC_DESTINATION_SHIFT, this.isLevelEntry(entry));
    if (!accepted) this.undeliveredCount++;
    return accepted;
  }

  // ---- MMIO ----

  /** Read IOREGSEL or IOWIN. */
  mmioRead(offset: number, size: AccessSize): number {
    if (offset === IOAPIC_IOREGSEL) return this.ioregsel;
    if (offset >= IOAPIC_IOWIN && offset < IOAPIC_IOWIN + 4) {
      const value = this.readIndirect(this.ioregsel) >>> ((offset - IOAPIC_IOWIN) * 8);
      return size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff);
    }
    this.ignoredAccessCount++;
    return 0;
  }

  /** Write IOREGSEL or IOWIN (narrow IOWIN writes merge into the selected register). */
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset === IOAPIC_IOREGSEL) {
      this.ioregsel = value & 0xff;
      return;
    }
    if (offset >= IOAPIC_IOWIN && offset < IOAPIC_IOWIN + 4) {
      const shift = (offset - IOAPIC_IOWIN) * 8;
      const fieldMask = size === 4 ? 0xffffffff : ((size === 1 ? 0xff : 0xffff) << shift) >>> 0;
      const merged = ((this.readIndirect(this.ioregsel) & ~fieldMask) | ((value << shift) & fieldMask)) >>> 0;
      this.writeIndirect(this.ioregsel, merged);
      return;
    }
    this.ignoredAccessCount++;
  }

  private readIndirect(register: number): number {
    switch (register) {
      case IOAPIC_REG_ID:
      case IOAPIC_REG_ARBITRATION:
        return (this.apicId << ID_SHIFT) >>> 0;
      case IOAPIC_REG_VERSION:
        return IOAPIC_VERSION_VALUE;
    }
    const index = register - IOAPIC_REG_REDIRECTION;
    if (index >= 0 && index < 2 * IOAPIC_PIN_COUNT) {
      return (index & 1) === 0 ? this.low[index >> 1]! : this.high[index >> 1]!;
    }
    this.ignoredAccessCount++;
    return 0;
  }

  private writeIndirect(register: number, value: number): void {
    if (register === IOAPIC_REG_ID) {
      this.apicId = (value >>> ID_SHIFT) & ID_MASK;
      return;
    }
    const index = register - IOAPIC_REG_REDIRECTION;
    if (index < 0 || index >= 2 * IOAPIC_PIN_COUNT) {
      this.ignoredAccessCount++; // version, arbitration (read-only) and unimplemented registers
      return;
    }
    const pin = index >> 1;
    if ((index & 1) === 0) this.writeEntryLow(pin, value);
    else this.high[pin] = (value & ENTRY_HIGH_WRITABLE) >>> 0;
    this.deliverLevel(pin);
  }

  private writeEntryLow(pin: number, value: number): void {
    let entry = (value & ENTRY_LOW_WRITABLE) | (this.low[pin]! & IOAPIC_REMOTE_IRR);
    if ((entry & IOAPIC_LEVEL_TRIGGERED) === 0) entry &= ~IOAPIC_REMOTE_IRR;
    this.low[pin] = entry;
  }

  // ---- Persist ----

  /** Capture registers, redirection table and pin levels. */
  save(): IoApicState {
    return {
      version: IOAPIC_STATE_VERSION,
      ioregsel: this.ioregsel,
      apicId: this.apicId,
      redirectionLow: Array.from(this.low),
      redirectionHigh: Array.from(this.high),
      pinLevels: this.pinLevels,
    };
  }

  /** Validate `state` completely, then apply it (no message is sent). */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([IOAPIC_STATE_VERSION]);
    const ioregsel = r.int('ioregsel', 0, 0xff);
    const apicId = r.int('apicId', 0, ID_MASK);
    const low = r.ints('redirectionLow', 0, 0xffffffff, IOAPIC_PIN_COUNT, IOAPIC_PIN_COUNT);
    const high = r.ints('redirectionHigh', 0, 0xffffffff, IOAPIC_PIN_COUNT, IOAPIC_PIN_COUNT);
    for (let pin = 0; pin < IOAPIC_PIN_COUNT; pin++) {
      const entry = low[pin]!;
      if ((entry & ~(ENTRY_LOW_WRITABLE | IOAPIC_REMOTE_IRR)) !== 0) {
        throw new StateError(this.persistId, `redirectionLow[${pin}]`, `reserved or delivery-status bits set in ${entry.toString(16)}`);
      }
      if ((entry & IOAPIC_REMOTE_IRR) !== 0 && !this.isLevelEntry(entry)) {
        throw new StateError(this.persistId, `redirectionLow[${pin}]`, 'remote IRR set on an entry that is not level-triggered fixed/lowest-priority');
      }
      if ((high[pin]! & ~ENTRY_HIGH_WRITABLE) !== 0) {
        throw new StateError(this.persistId, `redirectionHigh[${pin}]`, 'bits outside 31:24 (destination) set');
      }
    }
    const pinLevels = r.int('pinLevels', 0, ALL_PINS);
    this.ioregsel = ioregsel;
    this.apicId = apicId;
    this.low.set(low);
    this.high.set(high);
    this.pinLevels = pinLevels;
  }
}
