/**
 * The PC's cascaded pair of 8259A programmable interrupt controllers (Intel 8259A datasheet,
 * order 231468: "Interrupt Sequence", "Programming the 8259A", "Operation Command Words",
 * "Priority Rotation", "Special Mask Mode", "Poll Command", "Cascade Mode") plus the edge/level
 * control registers of the PIIX south bridge (Intel 82371AB PIIX4 datasheet, ELCR1/ELCR2).
 *
 * Three I/O faces, registered by the board:
 *   `master` at 0x20-0x21, `slave` at 0xA0-0xA1 (offset 0 = A0 low: ICW1/OCW2/OCW3 write,
 *   IRR/ISR/poll read; offset 1 = A0 high: ICW2-4/OCW1 write, IMR read), and
 *   `elcr` at 0x4D0-0x4D1 (offset 0 = ELCR1 for IRQ 0-7, offset 1 = ELCR2 for IRQ 8-15).
 * The slave's INT output is wired to master input IR2; IRQ 2 is therefore not an input of
 * `setIrq` (ISA devices that used IRQ 2 are wired to IRQ 9 on the AT).
 *
 * Model choices:
 * - Inputs come from `setIrq(irq, level)` as wire levels. An edge-triggered input latches its
 *   IRR bit on a low→high transition and keeps it when the wire falls again (so a device that
 *   pulses its line is counted once); IRR is cleared by the acknowledge that services it or by
 *   ICW1. A level-triggered input (ICW1 LTIM for the whole chip, or its ELCR bit) has IRR
 *   equal to the wire level at all times. A request that vanishes before acknowledge (a level
 *   input that fell, a request masked after INT rose) gives the datasheet's default IR7
 *   vector without setting an ISR bit; through the cascade the master still sets ISR bit 2
 *   and the slave answers with its IR7 vector (IRQ 15).
 * - The slave's INT feeds master IR2 with the same edge/level rules (IR2 has no ELCR bit,
 *   so it is edge-triggered unless the master's LTIM is set).
 * - ICW1 resets the edge-sense latches (IRR bits of edge inputs), clears IMR and ISR, gives
 *   IR7 the lowest priority, clears special mask mode, rotate-in-AEOI and a pending poll,
 *   selects IRR for status reads, and zeroes the ICW4 functions when IC4 = 0. (The datasheet
 *   does not list ISR; clearing it means re-initialisation never leaves a stale level in
 *   service.)
 * - Only the 8086 vector format is produced (vector = ICW2 bits 7-3 | IR number); a chip left
 *   in MCS-80 mode (ICW4 µPM = 0, or no ICW4) answers the same way — the PC's x86 CPU cannot
 *   use the CALL sequence — and buffered mode (BUF, M/S) is stored but has no effect.
 * - Special fully nested mode (ICW4 SFNM) is honoured on the master: an in-service cascade
 *   input does not block a new request from the same slave.
 * - The poll command treats the next read of offset 0 like an interrupt acknowledge (ISR bit
 *   set, automatic EOI honoured) and returns 0x80 | level, or 0x00 with nothing requesting.
 *   A poll of the master that selects IR2 acknowledges only the master; software then polls
 *   the slave.
 * - Cascade: the master asks the slave for the vector when it is not in single mode and its
 *   ICW3 marks IR2 as a slave input. A slave whose ICW3 ID is not 2 does not answer; the
 *   data bus then floats and the vector read is 0xFF (counted in `unansweredCascades`).
 * - Power-on (`reset()`): the datasheet defines no reset input or power-on state, so this
 *   model starts with all registers zero, IR7 lowest priority and the chips uninitialised:
 *   the INT output stays low until an ICW1..ICW2(..ICW4) sequence has completed, because an
 *   unprogrammed chip has no vector base. The ELCRs reset to 0 (all edge) as on the PIIX.
 * - ELCR bits for IRQ 0, 1, 2, 8 and 13 are read-only zero, as on the PIIX. An input switched
 *   from level to edge mode drops its IRR bit (it needs a fresh rising edge); one switched to
 *   level mode takes its wire level at once.
 * - OCW3 with bit 7 set, ICW4 with bits 5-7 set and 2- or 4-byte accesses are handled as
 *   the hardware would (bits ignored; wide accesses split into consecutive byte accesses);
 *   the reserved-bit writes are counted in `ignoredWrites`. Nothing a guest writes throws.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { InterruptSource } from '../../cpu/port-io.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';

/** Master PIC command/status port (A0 = 0). */
export const PIC_MASTER_BASE = 0x20;
/** Slave PIC command/status port (A0 = 0). */
export const PIC_SLAVE_BASE = 0xa0;
/** PIIX ELCR1 (IRQ 0-7); ELCR2 follows at +1. */
export const PIC_ELCR_BASE = 0x4d0;
/** Ports each 8259A face occupies. */
export const PIC_PORT_COUNT = 2;
/** Ports the ELCR face occupies. */
export const PIC_ELCR_PORT_COUNT = 2;
/** The master input the slave's INT drives (PC/AT wiring). */
export const PIC_CASCADE_IRQ = 2;

/** Offset of the A0 = 0 register (ICW1, OCW2, OCW3; IRR/ISR/poll). */
export const PIC_REG_COMMAND = 0;
/** Offset of the A0 = 1 register (ICW2-4, OCW1; IMR). */
export const PIC_REG_DATA = 1;

// ICW1 bits (command register, bit 4 set).
/** ICW1: marks the byte as ICW1. */
export const PIC_ICW1_INIT = 0x10;
/** ICW1: ICW4 will follow. */
export const PIC_ICW1_IC4 = 0x01;
/** ICW1: single chip, no ICW3. */
export const PIC_ICW1_SNGL = 0x02;
/** ICW1: call address interval (MCS-80 only; ignored). */
export const PIC_ICW1_ADI = 0x04;
/** ICW1: level-triggered inputs. */
export const PIC_ICW1_LTIM = 0x08;

// ICW4 bits.
/** ICW4: 8086/8088 mode. */
export const PIC_ICW4_UPM = 0x01;
/** ICW4: automatic end of interrupt. */
export const PIC_ICW4_AEOI = 0x02;
/** ICW4: buffered-mode master/slave select. */
export const PIC_ICW4_MS = 0x04;
/** ICW4: buffered mode. */
export const PIC_ICW4_BUF = 0x08;
/** ICW4: special fully nested mode. */
export const PIC_ICW4_SFNM = 0x10;
const PIC_ICW4_DEFINED_BITS = 0x1f;

// OCW2 (command register, bits 4-3 = 00): R (bit 7), SL (bit 6), EOI (bit 5), level (bits 2-0).
/** OCW2: non-specific EOI. */
export const PIC_OCW2_EOI = 0x20;
/** OCW2: specific EOI (OR the level). */
export const PIC_OCW2_SPECIFIC_EOI = 0x60;
/** OCW2: rotate on non-specific EOI. */
export const PIC_OCW2_ROTATE_EOI = 0xa0;
/** OCW2: rotate on specific EOI (OR the level). */
export const PIC_OCW2_ROTATE_SPECIFIC_EOI = 0xe0;
/** OCW2: set priority (OR the level that becomes lowest). */
export const PIC_OCW2_SET_PRIORITY = 0xc0;
/** OCW2: set rotate in automatic EOI mode. */
export const PIC_OCW2_SET_ROTATE_AEOI = 0x80;
/** OCW2: clear rotate in automatic EOI mode. */
export const PIC_OCW2_CLEAR_ROTATE_AEOI = 0x00;
/** OCW2: no operation. */
export const PIC_OCW2_NOP = 0x40;

// OCW3 (command register, bits 4-3 = 01).
/** OCW3 marker bit. */
export const PIC_OCW3 = 0x08;
/** OCW3: read register command (with RIS). */
export const PIC_OCW3_RR = 0x02;
/** OCW3: read ISR (with RR) instead of IRR. */
export const PIC_OCW3_RIS = 0x01;
/** OCW3: poll command. */
export const PIC_OCW3_POLL = 0x04;
/** OCW3: special mask mode value (applied with ESMM). */
export const PIC_OCW3_SMM = 0x20;
/** OCW3: enable special mask mode change. */
export const PIC_OCW3_ESMM = 0x40;

/** Poll word bit 7: an interrupt was requesting. */
export const PIC_POLL_INTERRUPT = 0x80;
/** The level that answers when a request vanished before acknowledge. */
export const PIC_SPURIOUS_LEVEL = 7;

/** ELCR1 bits that are writable (IRQ 0, 1, 2 are read-only zero). */
export const PIC_ELCR1_WRITABLE = 0xf8;
/** ELCR2 bits that are writable (IRQ 8 and 13 are read-only zero). */
export const PIC_ELCR2_WRITABLE = 0xde;

/** ICW1 sets the slave mode address to 7 (datasheet, ICW1 effects). */
const PIC_SLAVE_ADDRESS_AFTER_ICW1 = 7;
/** Vector read from a floating data bus (no chip answered). */
const FLOATING_BUS_VECTOR = 0xff;
/** `initStep`: not in an initialisation sequence. */
const INIT_DONE = 0;
/** Version of the saved state layout. */
const PIC_STATE_VERSION = 1;

/** Saved state of one 8259A. */
export interface Pic8259ChipState {
  readonly irr: number;
  readonly isr: number;
  readonly imr: number;
  /** Wire level of each input pin (bit n = IRn). */
  readonly inputs: number;
  readonly elcr: number;
  /** 0 = operational, 2/3/4 = the ICW expected next. */
  readonly initStep: number;
  /** An ICW sequence has completed since reset. */
  readonly initialized: boolean;
  readonly levelTriggered: boolean;
  readonly single: boolean;
  readonly icw4Needed: boolean;
  readonly vectorBase: number;
  readonly icw3: number;
  readonly icw4: number;
  /** The IR level with the lowest priority (7 after init). */
  readonly lowestPriority: number;
  readonly rotateInAeoi: boolean;
  readonly specialMask: boolean;
  readonly readIsr: boolean;
  readonly pollPending: boolean;
}

/** Saved state of the pair. */
export interface Pic8259PairState extends SavedState {
  readonly version: number;
  readonly master: Pic8259ChipState;
  readonly slave: Pic8259ChipState;
}

/** Options the board gives the pair. */
export interface Pic8259PairOptions {
  /** Called with the new level of the master's INT output each time it changes. */
  readonly onOutput?: (level: boolean) => void;
}

/** One 8259A's registers and its priority logic (no knowledge of the cascade wiring). */
class Pic8259Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  inputs = 0;
  elcr = 0;
  initStep = INIT_DONE;
  initialized = false;
  levelTriggered = false;
  single = false;
  icw4Needed = false;
  vectorBase = 0;
  icw3 = 0;
  icw4 = 0;
  lowestPriority = PIC_SPURIOUS_LEVEL;
  rotateInAeoi = false;
  specialMask = false;
  readIsr = false;
  pollPending = false;
  /** Reserved-bit command writes seen (for debugging). */
  ignoredWrites = 0;

  constructor(readonly elcrWritable: number) {}

  reset(): void {
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.inputs = 0;
    this.elcr = 0;
    this.initStep = INIT_DONE;
    this.initialized = false;
    this.levelTriggered = false;
    this.single = false;
    this.icw4Needed = false;
    this.vectorBase = 0;
    this.icw3 = 0;
    this.icw4 = 0;
    this.lowestPriority = PIC_SPURIOUS_LEVEL;
    this.rotateInAeoi = false;
    this.specialMask = false;
    this.readIsr = false;
    this.pollPending = false;
  }

  /** Bit mask of inputs that are level-triggered. */
  levelMask(): number {
    return this.levelTriggered ? 0xff : this.elcr;
  }

  /** Drive input pin `pin` to `level`: edge inputs latch on a rising edge, level inputs follow. */
  setInput(pin: number, level: boolean): void {
    const bit = 1 << pin;
    const wasHigh = (this.inputs & bit) !== 0;
    if (level) this.inputs |= bit;
    else this.inputs &= ~bit;
    if ((this.levelMask() & bit) !== 0) {
      this.irr = level ? this.irr | bit : this.irr & ~bit;
    } else if (level && !wasHigh) {
      this.irr |= bit;
    }
  }

  /** Make IRR of level inputs equal their wires (after LTIM or ELCR changes). */
  refreshLevelInputs(): void {
    const level = this.levelMask();
    this.irr = (this.irr & ~level) | (this.inputs & level);
  }

  /** The IR level with priority rank `rank` (0 = highest) under the current rotation. */
  levelAtRank(rank: number): number {
    return (this.lowestPriority + 1 + rank) & 7;
  }

  /** Highest-priority level set in `bits`, or -1. */
  highestIn(bits: number): number {
    if (bits === 0) return -1;
    for (let rank = 0; rank < 8; rank++) {
      const level = this.levelAtRank(rank);
      if ((bits & (1 << level)) !== 0) return level;
    }
    return -1;
  }

  /** Priority rank of `level` (0 = highest). */
  rankOf(level: number): number {
    return (level - this.lowestPriority - 1) & 7;
  }

  /**
   * The level the priority resolver would present to the CPU now, or -1: the highest
   * unmasked request with higher priority than every blocking in-service level.
   * `sfnmCascade` is the set of inputs exempt from blocking themselves (SFNM master).
   */
  resolve(sfnmCascade: number): number {
    const request = this.highestIn(this.irr & ~this.imr);
    if (request < 0) return -1;
    let blocking = this.specialMask ? this.isr & ~this.imr : this.isr;
    blocking &= ~(sfnmCascade & (1 << request));
    const inService = this.highestIn(blocking);
    if (inService >= 0 && this.rankOf(inService) <= this.rankOf(request)) return -1;
    return request;
  }

  /** Move `level` from IRR to ISR as an acknowledge does (automatic EOI honoured). */
  acknowledgeLevel(level: number): void {
    const bit = 1 << level;
    if ((this.levelMask() & bit) === 0) this.irr &= ~bit;
    if ((this.icw4 & PIC_ICW4_AEOI) !== 0) {
      if (this.rotateInAeoi) this.lowestPriority = level;
    } else {
      this.isr |= bit;
    }
  }

  /** Vector this chip puts on the bus for `level` (8086 format). */
  vectorFor(level: number): number {
    return (this.vectorBase | level) & 0xff;
  }

  /** ICW1: start an initialisation sequence. */
  writeIcw1(value: number): void {
    this.levelTriggered = (value & PIC_ICW1_LTIM) !== 0;
    this.single = (value & PIC_ICW1_SNGL) !== 0;
    this.icw4Needed = (value & PIC_ICW1_IC4) !== 0;
    if (!this.icw4Needed) this.icw4 = 0;
    this.imr = 0;
    this.isr = 0;
    this.irr = 0;
    this.refreshLevelInputs();
    this.lowestPriority = PIC_SPURIOUS_LEVEL;
    this.icw3 = PIC_SLAVE_ADDRESS_AFTER_ICW1;
    this.specialMask = false;
    this.rotateInAeoi = false;
    this.readIsr = false;
    this.pollPending = false;
    this.initStep = 2;
  }

  /** A write to offset 1: the next ICW during initialisation, OCW1 otherwise. */
  writeData(value: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = value & 0xf8;
        this.initStep = !this.single ? 3 : this.icw4Needed ? 4 : INIT_DONE;
        break;
      case 3:
        this.icw3 = value;
        this.initStep = this.icw4Needed ? 4 : INIT_DONE;
        break;
      case 4:
        if ((value & ~PIC_ICW4_DEFINED_BITS) !== 0) this.ignoredWrites++;
        this.icw4 = value & PIC_ICW4_DEFINED_BITS;
        this.initStep = INIT_DONE;
        break;
      default:
        this.imr = value;
        return;
    }
    if (this.initStep === INIT_DONE) this.initialized = true;
  }

  /** OCW2: end of interrupt and priority commands. */
  writeOcw2(value: number): void {
    const level = value & 7;
    switch (value & 0xe0) {
      case PIC_OCW2_EOI:
        this.clearHighestInService(false);
        break;
      case PIC_OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        break;
      case PIC_OCW2_ROTATE_EOI:
        this.clearHighestInService(true);
        break;
      case PIC_OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case PIC_OCW2_SET_PRIORITY:
        this.lowestPriority = level;
        break;
      case PIC_OCW2_SET_ROTATE_AEOI:
        this.rotateInAeoi = true;
        break;
      case PIC_OCW2_CLEAR_ROTATE_AEOI:
        this.rotateInAeoi = false;
        break;
      default: // PIC_OCW2_NOP
        break;
    }
  }

  /** Non-specific EOI: clear the highest-priority ISR bit, optionally making it lowest priority. */
  private clearHighestInService(rotate: boolean): void {
    const level = this.highestIn(this.isr);
    if (level < 0) return;
    this.isr &= ~(1 << level);
    if (rotate) this.lowestPriority = level;
  }

  /** OCW3: read-register select, poll, special mask mode. */
  writeOcw3(value: number): void {
    if ((value & 0x80) !== 0) this.ignoredWrites++;
    if ((value & PIC_OCW3_ESMM) !== 0) this.specialMask = (value & PIC_OCW3_SMM) !== 0;
    if ((value & PIC_OCW3_RR) !== 0) this.readIsr = (value & PIC_OCW3_RIS) !== 0;
    if ((value & PIC_OCW3_POLL) !== 0) this.pollPending = true;
  }

  /** ELCR write: only the writable bits stick. */
  writeElcr(value: number): void {
    const wasLevel = this.levelMask();
    this.elcr = value & this.elcrWritable;
    // An input leaving level mode needs a fresh rising edge to request again.
    this.irr &= ~(wasLevel & ~this.levelMask());
    this.refreshLevelInputs();
  }

  save(): Pic8259ChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      inputs: this.inputs,
      elcr: this.elcr,
      initStep: this.initStep,
      initialized: this.initialized,
      levelTriggered: this.levelTriggered,
      single: this.single,
      icw4Needed: this.icw4Needed,
      vectorBase: this.vectorBase,
      icw3: this.icw3,
      icw4: this.icw4,
      lowestPriority: this.lowestPriority,
      rotateInAeoi: this.rotateInAeoi,
      specialMask: this.specialMask,
      readIsr: this.readIsr,
      pollPending: this.pollPending,
    };
  }

  apply(state: Pic8259ChipState): void {
    this.irr = state.irr;
    this.isr = state.isr;
    this.imr = state.imr;
    this.inputs = state.inputs;
    this.elcr = state.elcr;
    this.initStep = state.initStep;
    this.initialized = state.initialized;
    this.levelTriggered = state.levelTriggered;
    this.single = state.single;
    this.icw4Needed = state.icw4Needed;
    this.vectorBase = state.vectorBase;
    this.icw3 = state.icw3;
    this.icw4 = state.icw4;
    this.lowestPriority = state.lowestPriority;
    this.rotateInAeoi = state.rotateInAeoi;
    this.specialMask = state.specialMask;
    this.readIsr = state.readIsr;
    this.pollPending = state.pollPending;
  }
}

/** Read and validate one chip's saved record; errors name `<chip>.<field>`. */
function readChipState(component: string, reader: StateReader, chip: string, elcrWritable: number): Pic8259ChipState {
  const r = reader.object(chip);
  const elcr = r.int('elcr', 0, 0xff);
  if ((elcr & ~elcrWritable) !== 0) {
    throw new StateError(component, `${chip}.elcr`, `bits 0x${(elcr & ~elcrWritable).toString(16)} are read-only zero`);
  }
  const initStep = r.int('initStep', 0, 4);
  if (initStep === 1) throw new StateError(component, `${chip}.initStep`, 'expected 0, 2, 3 or 4, got 1');
  const vectorBase = r.int('vectorBase', 0, 0xff);
  if ((vectorBase & 7) !== 0) throw new StateError(component, `${chip}.vectorBase`, `${vectorBase} is not a multiple of 8`);
  return {
    irr: r.int('irr', 0, 0xff),
    isr: r.int('isr', 0, 0xff),
    imr: r.int('imr', 0, 0xff),
    inputs: r.int('inputs', 0, 0xff),
    elcr,
    initStep,
    initialized: r.bool('initialized'),
    levelTriggered: r.bool('levelTriggered'),
    single: r.bool('single'),
    icw4Needed: r.bool('icw4Needed'),
    vectorBase,
    icw3: r.int('icw3', 0, 0xff),
    icw4: r.int('icw4', 0, PIC_ICW4_DEFINED_BITS),
    lowestPriority: r.int('lowestPriority', 0, 7),
    rotateInAeoi: r.bool('rotateInAeoi'),
    specialMask: r.bool('specialMask'),
    readIsr: r.bool('readIsr'),
    pollPending: r.bool('pollPending'),
  };
}

/** An IoDevice face that forwards to one handler pair. */
class PicFace implements IoDevice {
  constructor(
    readonly name: string,
    private readonly readByte: (offset: number) => number,
    private readonly writeByte: (offset: number, value: number) => void,
  ) {}

  /** Read; a wide access reads consecutive registers, little-endian. */
  ioRead(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte((offset + i) & 1) << (8 * i);
    return value >>> 0;
  }

  /** Write; a wide access writes consecutive registers, little-endian. */
  ioWrite(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte((offset + i) & 1, (value >>> (8 * i)) & 0xff);
  }
}

/** The master/slave 8259A pair of a PC, with the PIIX ELCR. */
export class Pic8259Pair implements InterruptSource, Persist<Pic8259PairState> {
  readonly name = 'pic';
  readonly persistId = 'pic';
  /** Master chip registers: register at 0x20, 2 ports. */
  readonly master: IoDevice;
  /** Slave chip registers: register at 0xA0, 2 ports. */
  readonly slave: IoDevice;
  /** Edge/level control registers: register at 0x4D0, 2 ports. */
  readonly elcr: IoDevice;

  private readonly masterChip = new Pic8259Chip(PIC_ELCR1_WRITABLE);
  private readonly slaveChip = new Pic8259Chip(PIC_ELCR2_WRITABLE);
  private readonly onOutput: ((level: boolean) => void) | undefined;
  private outputLevel = false;
  private unansweredCascadeCount = 0;

  /** Create the pair in its power-on state (see the module comment). */
  constructor(options: Pic8259PairOptions = {}) {
    this.onOutput = options.onOutput;
    this.master = new PicFace(
      'pic-master',
      (offset) => this.readChip(this.masterChip, offset),
      (offset, value) => this.writeChip(this.masterChip, offset, value),
    );
    this.slave = new PicFace(
      'pic-slave',
      (offset) => this.readChip(this.slaveChip, offset),
      (offset, value) => this.writeChip(this.slaveChip, offset, value),
    );
    this.elcr = new PicFace(
      'pic-elcr',
      (offset) => (offset === 0 ? this.masterChip : this.slaveChip).elcr,
      (offset, value) => {
        (offset === 0 ? this.masterChip : this.slaveChip).writeElcr(value);
        this.updateOutputs();
      },
    );
  }

  /** Back to the power-on state; input wire levels are forgotten (the board re-drives them). */
  reset(): void {
    this.masterChip.reset();
    this.slaveChip.reset();
    this.updateOutputs();
  }

  /** Current level of the master's INT output. */
  get output(): boolean {
    return this.outputLevel;
  }

  /** Reserved-bit command writes ignored so far (both chips). */
  get ignoredWrites(): number {
    return this.masterChip.ignoredWrites + this.slaveChip.ignoredWrites;
  }

  /** Cascade acknowledges the slave did not answer (its ICW3 ID is not 2). */
  get unansweredCascades(): number {
    return this.unansweredCascadeCount;
  }

  // ---- inputs and the CPU side ----

  /** Drive input `irq` (0-15 except the cascade input 2) to `level`. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15 || irq === PIC_CASCADE_IRQ) {
      throw new RangeError(`pic: setIrq expects an IRQ in 0..15 other than the cascade input 2, got ${irq}`);
    }
    if (irq < 8) this.masterChip.setInput(irq, level);
    else this.slaveChip.setInput(irq - 8, level);
    this.updateOutputs();
  }

  /** True while the master's INT output is asserted (cached; no work done here). */
  hasPending(): boolean {
    return this.outputLevel;
  }

  /** The CPU's interrupt acknowledge cycle: returns the vector and updates IRR/ISR. */
  acknowledge(): number {
    const master = this.masterChip;
    const level = master.resolve(this.sfnmCascadeInputs());
    if (level < 0) return this.finishAcknowledge(master.vectorFor(PIC_SPURIOUS_LEVEL));
    master.acknowledgeLevel(level);
    if (!this.isCascadeInput(level)) return this.finishAcknowledge(master.vectorFor(level));
    return this.finishAcknowledge(this.acknowledgeSlave());
  }

  /** The slave's half of a cascaded acknowledge. */
  private acknowledgeSlave(): number {
    const slave = this.slaveChip;
    if ((slave.icw3 & 7) !== PIC_CASCADE_IRQ) {
      this.unansweredCascadeCount++;
      return FLOATING_BUS_VECTOR;
    }
    const level = slave.resolve(0);
    if (level < 0) return slave.vectorFor(PIC_SPURIOUS_LEVEL);
    slave.acknowledgeLevel(level);
    return slave.vectorFor(level);
  }

  private finishAcknowledge(vector: number): number {
    this.updateOutputs();
    return vector;
  }

  /** True when master input `level` is configured as a slave input. */
  private isCascadeInput(level: number): boolean {
    const master = this.masterChip;
    return level === PIC_CASCADE_IRQ && !master.single && (master.icw3 & (1 << PIC_CASCADE_IRQ)) !== 0;
  }

  /** Master inputs exempt from self-blocking (SFNM with a slave on them). */
  private sfnmCascadeInputs(): number {
    const master = this.masterChip;
    return (master.icw4 & PIC_ICW4_SFNM) !== 0 && !master.single ? master.icw3 : 0;
  }

  /** Recompute the slave INT → master IR2 wire and the master INT output. */
  private updateOutputs(): void {
    const slave = this.slaveChip;
    const slaveInt = slave.initialized && slave.resolve(0) >= 0;
    this.masterChip.setInput(PIC_CASCADE_IRQ, slaveInt);
    const master = this.masterChip;
    const level = master.initialized && master.resolve(this.sfnmCascadeInputs()) >= 0;
    if (level === this.outputLevel) return;
    this.outputLevel = level;
    this.onOutput?.(level);
  }

  // ---- register faces ----

  private readChip(chip: Pic8259Chip, offset: number): number {
    if (offset === PIC_REG_DATA) return chip.imr;
    if (chip.pollPending) return this.poll(chip);
    return chip.readIsr ? chip.isr : chip.irr;
  }

  /** A poll read: acknowledge the chip's highest request, if any, and report it. */
  private poll(chip: Pic8259Chip): number {
    chip.pollPending = false;
    const sfnm = chip === this.masterChip ? this.sfnmCascadeInputs() : 0;
    const level = chip.resolve(sfnm);
    if (level < 0) return 0;
    chip.acknowledgeLevel(level);
    this.updateOutputs();
    return PIC_POLL_INTERRUPT | level;
  }

  private writeChip(chip: Pic8259Chip, offset: number, value: number): void {
    if (offset === PIC_REG_DATA) chip.writeData(value);
    else if ((value & PIC_ICW1_INIT) !== 0) chip.writeIcw1(value);
    else if ((value & PIC_OCW3) !== 0) chip.writeOcw3(value);
    else chip.writeOcw2(value);
    this.updateOutputs();
  }

  // ---- Persist ----

  /** Capture both chips' registers and input levels. */
  save(): Pic8259PairState {
    return { version: PIC_STATE_VERSION, master: this.masterChip.save(), slave: this.slaveChip.save() };
  }

  /** Validate `state` completely, then apply it and recompute the output. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([PIC_STATE_VERSION]);
    const master = readChipState(this.persistId, reader, 'master', PIC_ELCR1_WRITABLE);
    const slave = readChipState(this.persistId, reader, 'slave', PIC_ELCR2_WRITABLE);
    this.masterChip.apply(master);
    this.slaveChip.apply(slave);
    this.updateOutputs();
  }
}
