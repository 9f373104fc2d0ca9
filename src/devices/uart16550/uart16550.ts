/**
 * 16550A UART (National Semiconductor PC16550D datasheet): the PC serial port. Eight byte
 * registers at the base the board chooses (COM1 = 0x3F8, IRQ 4):
 *
 *   offset  DLAB=0 read / write      DLAB=1
 *   0       RBR / THR                DLL
 *   1       IER                      DLM
 *   2       IIR / FCR
 *   3       LCR   4 MCR   5 LSR   6 MSR   7 SCR
 *
 * Model choices (all deterministic; no timers):
 * - Transmit is instantaneous. A THR write hands the byte to `transmit` (or, in loopback,
 *   to the receiver) and the transmitter is empty again at once: LSR THRE and TEMT are
 *   always set. The THRE interrupt is cleared by the write and set again when the byte
 *   has gone, so with THRE as the only source the IRQ line dips and rises (a fresh edge).
 *   Line parameters (word length, parity, stop bits, divisor) are stored and read back but
 *   do not alter the data: a guest that never programs LCR still gets 8-bit bytes through.
 * - Receive: the host side calls `receive(byte)`, which accepts the byte only if the RX
 *   FIFO has room (16 bytes with FIFOs enabled, 1 holding byte without) and otherwise
 *   returns false so the VM's input queue keeps it and retries; host input therefore never
 *   overruns. An overrun (LSR OE) can only come from loopback transmission into a full
 *   receiver. Parity, framing and break errors are never generated.
 * - Character timeout: no character-time timer is modelled. In FIFO mode, when
 *   0 < RX count < trigger level, the timeout indication (IIR = 0x0C) is reported at once.
 * - Interrupt priorities (datasheet table "Interrupt Control Functions"): receiver line
 *   status > received data available / character timeout > THR empty > modem status.
 * - IRQ output: the PC board gates the UART interrupt through MCR OUT2, so the line level
 *   is (some enabled interrupt pending) AND OUT2. In loopback mode the datasheet forces the
 *   modem-control outputs (OUT2 included) inactive, so the line is held low; the pending
 *   interrupts remain visible in IIR (this is how drivers test loopback by polling).
 * - Loopback (MCR LOOP): transmitted bytes go to the receiver; MSR CTS/DSR/RI/DCD follow
 *   MCR RTS/DTR/OUT1/OUT2; host input is refused (`receive` returns false) because the
 *   serial input pin is disconnected. Outside loopback the modem inputs read as a
 *   connected peer: CTS, DSR and DCD set, RI clear.
 * - Wider accesses (2 or 4 bytes) inside the device act as consecutive byte accesses.
 * - Reading RBR with an empty receiver returns 0.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';

// Register offsets.
/** Receiver buffer (read, DLAB=0). */
export const UART_RBR = 0;
/** Transmitter holding (write, DLAB=0). */
export const UART_THR = 0;
/** Divisor latch low byte (DLAB=1). */
export const UART_DLL = 0;
/** Interrupt enable (DLAB=0). */
export const UART_IER = 1;
/** Divisor latch high byte (DLAB=1). */
export const UART_DLM = 1;
/** Interrupt identification (read). */
export const UART_IIR = 2;
/** FIFO control (write). */
export const UART_FCR = 2;
/** Line control. */
export const UART_LCR = 3;
/** Modem control. */
export const UART_MCR = 4;
/** Line status. */
export const UART_LSR = 5;
/** Modem status. */
export const UART_MSR = 6;
/** Scratch. */
export const UART_SCR = 7;
/** Number of I/O ports the UART occupies. */
export const UART_REGISTER_COUNT = 8;

// IER bits.
/** Enable received data available (and character timeout) interrupt. */
export const UART_IER_ERBFI = 0x01;
/** Enable transmitter holding register empty interrupt. */
export const UART_IER_ETBEI = 0x02;
/** Enable receiver line status interrupt. */
export const UART_IER_ELSI = 0x04;
/** Enable modem status interrupt. */
export const UART_IER_EDSSI = 0x08;
const UART_IER_MASK = 0x0f;

// IIR values.
/** No interrupt pending. */
export const UART_IIR_NO_INT = 0x01;
/** Modem status interrupt. */
export const UART_IIR_MSI = 0x00;
/** Transmitter holding register empty. */
export const UART_IIR_THRI = 0x02;
/** Received data available (trigger level reached). */
export const UART_IIR_RDI = 0x04;
/** Receiver line status. */
export const UART_IIR_RLSI = 0x06;
/** Character timeout (FIFO mode). */
export const UART_IIR_CTI = 0x0c;
/** IIR bits 6-7: FIFOs enabled. */
export const UART_IIR_FIFO_ENABLED = 0xc0;

// FCR bits.
/** Enable both FIFOs; changing it clears them; other bits apply only when it is set. */
export const UART_FCR_ENABLE_FIFO = 0x01;
/** Clear the receiver FIFO. */
export const UART_FCR_CLEAR_RCVR = 0x02;
/** Clear the transmitter FIFO. */
export const UART_FCR_CLEAR_XMIT = 0x04;
/** Receiver trigger level field (bits 6-7). */
export const UART_FCR_TRIGGER_SHIFT = 6;
/** RX trigger levels indexed by FCR bits 6-7. */
export const UART_FCR_TRIGGER_LEVELS: readonly number[] = [1, 4, 8, 14];

// LCR bits.
/** Divisor latch access bit. */
export const UART_LCR_DLAB = 0x80;

// MCR bits.
/** Data terminal ready. */
export const UART_MCR_DTR = 0x01;
/** Request to send. */
export const UART_MCR_RTS = 0x02;
/** Auxiliary output 1. */
export const UART_MCR_OUT1 = 0x04;
/** Auxiliary output 2 (gates the interrupt on the PC board). */
export const UART_MCR_OUT2 = 0x08;
/** Local loopback. */
export const UART_MCR_LOOP = 0x10;
const UART_MCR_MASK = 0x1f;

// LSR bits.
/** Data ready. */
export const UART_LSR_DR = 0x01;
/** Overrun error. */
export const UART_LSR_OE = 0x02;
/** Parity error. */
export const UART_LSR_PE = 0x04;
/** Framing error. */
export const UART_LSR_FE = 0x08;
/** Break interrupt. */
export const UART_LSR_BI = 0x10;
/** Transmitter holding register empty. */
export const UART_LSR_THRE = 0x20;
/** Transmitter empty. */
export const UART_LSR_TEMT = 0x40;
/** The LSR bits that raise a receiver line status interrupt and clear on LSR read. */
export const UART_LSR_ERROR_BITS = UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;

// MSR bits.
/** Delta clear to send. */
export const UART_MSR_DCTS = 0x01;
/** Delta data set ready. */
export const UART_MSR_DDSR = 0x02;
/** Trailing edge ring indicator. */
export const UART_MSR_TERI = 0x04;
/** Delta data carrier detect. */
export const UART_MSR_DDCD = 0x08;
/** Clear to send. */
export const UART_MSR_CTS = 0x10;
/** Data set ready. */
export const UART_MSR_DSR = 0x20;
/** Ring indicator. */
export const UART_MSR_RI = 0x40;
/** Data carrier detect. */
export const UART_MSR_DCD = 0x80;
const UART_MSR_DELTA_MASK = 0x0f;

/** Receiver FIFO depth of the 16550A. */
export const UART_FIFO_SIZE = 16;
/** Modem inputs outside loopback: a connected peer. */
const UART_MODEM_INPUTS_CONNECTED = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
/** Divisor at reset: 12 (9600 baud from the 1.8432 MHz clock). */
const UART_RESET_DIVISOR_LOW = 12;
/** Version of the saved state layout. */
const UART_STATE_VERSION = 1;

/** Options the board gives a UART. */
export interface Uart16550Options {
  /** Persist id and device name (e.g. "uart0"). */
  readonly id: string;
  /** The interrupt line (COM1: IRQ 4). */
  readonly irq: IrqLine;
  /** Called with each byte the guest transmits (outside loopback). */
  readonly transmit: (byte: number) => void;
}

/** Saved state of a UART. */
export interface Uart16550State extends SavedState {
  readonly version: number;
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  /** Pending LSR error bits (OE/PE/FE/BI). */
  readonly lineErrors: number;
  /** MSR delta bits 0-3. */
  readonly msrDeltas: number;
  readonly scr: number;
  readonly dll: number;
  readonly dlm: number;
  readonly fifoEnabled: boolean;
  /** FCR bits 6-7 (index into UART_FCR_TRIGGER_LEVELS). */
  readonly triggerLevelCode: number;
  readonly thrEmptyPending: boolean;
  /** Received bytes not yet read, oldest first. */
  readonly rxFifo: number[];
}

/** A 16550A UART on the I/O-port bus, with instantaneous transmit and a 16-byte RX FIFO. */
export class Uart16550 implements IoDevice, Persist<Uart16550State> {
  readonly name: string;
  readonly persistId: string;
  private readonly irq: IrqLine;
  private readonly transmit: (byte: number) => void;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lineErrors = 0;
  private msrDeltas = 0;
  private scr = 0;
  private dll = UART_RESET_DIVISOR_LOW;
  private dlm = 0;
  private fifoEnabled = false;
  private triggerLevelCode = 0;
  private thrEmptyPending = false;
  private readonly rxFifo = new Uint8Array(UART_FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;

  /** Create a UART in its reset state; the IRQ line is driven low. */
  constructor(options: Uart16550Options) {
    this.name = options.id;
    this.persistId = options.id;
    this.irq = options.irq;
    this.transmit = options.transmit;
    this.updateIrq();
  }

  /** Return every register to its power-on value and empty the receiver. */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lineErrors = 0;
    this.msrDeltas = 0;
    this.scr = 0;
    this.dll = UART_RESET_DIVISOR_LOW;
    this.dlm = 0;
    this.fifoEnabled = false;
    this.triggerLevelCode = 0;
    this.thrEmptyPending = false;
    this.clearReceiver();
    this.updateIrq();
  }

  // ---- host side ----

  /**
   * Offer one received byte from the host. Returns true if accepted, false if the receiver
   * has no room (or is in loopback); the caller keeps the byte and retries later.
   */
  receive(byte: number): boolean {
    if (!Number.isInteger(byte) || byte < 0 || byte > 0xff) {
      throw new RangeError(`${this.name}: receive() expects a byte 0..255, got ${byte}`);
    }
    if (this.rxSpace() === 0) return false;
    this.pushReceived(byte);
    this.updateIrq();
    return true;
  }

  /** How many more bytes `receive` would accept now (0 in loopback). */
  rxSpace(): number {
    if (this.isLoopback()) return 0;
    return this.rxCapacity() - this.rxCount;
  }

  // ---- guest side (IoDevice) ----

  /** Read a register; wider accesses read consecutive registers, little-endian. */
  ioRead(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readRegister(offset + i) << (8 * i);
    return value >>> 0;
  }

  /** Write a register; wider accesses write consecutive registers, little-endian. */
  ioWrite(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writeRegister(offset + i, (value >>> (8 * i)) & 0xff);
  }

  /** Read one register and re-evaluate the IRQ line. */
  private readRegister(offset: number): number {
    const value = this.readRegisterValue(offset);
    this.updateIrq();
    return value;
  }

  private readRegisterValue(offset: number): number {
    const dlab = (this.lcr & UART_LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RBR:
        return dlab ? this.dll : this.popReceived();
      case UART_IER:
        return dlab ? this.dlm : this.ier;
      case UART_IIR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.readLsr();
      case UART_MSR:
        return this.readMsr();
      case UART_SCR:
        return this.scr;
      default:
        throw new RangeError(`${this.name}: register offset ${offset} out of range 0..7`);
    }
  }

  /** Write one register and re-evaluate the IRQ line. */
  private writeRegister(offset: number, value: number): void {
    const dlab = (this.lcr & UART_LCR_DLAB) !== 0;
    switch (offset) {
      case UART_THR:
        if (dlab) this.dll = value;
        else this.writeThr(value);
        break;
      case UART_IER:
        if (dlab) this.dlm = value;
        else this.writeIer(value);
        break;
      case UART_FCR:
        this.writeFcr(value);
        break;
      case UART_LCR:
        this.lcr = value;
        break;
      case UART_MCR:
        this.writeMcr(value);
        break;
      case UART_LSR:
      case UART_MSR:
        // LSR and MSR are read-only on the 16550A (writes are for factory test); ignored.
        break;
      case UART_SCR:
        this.scr = value;
        break;
      default:
        throw new RangeError(`${this.name}: register offset ${offset} out of range 0..7`);
    }
    this.updateIrq();
  }

  // ---- registers ----

  private writeThr(byte: number): void {
    this.thrEmptyPending = false;
    this.updateIrq();
    if (this.isLoopback()) this.loopbackReceive(byte);
    else this.transmit(byte);
    this.thrEmptyPending = true;
  }

  private writeIer(value: number): void {
    const enablingThre = (this.ier & UART_IER_ETBEI) === 0 && (value & UART_IER_ETBEI) !== 0;
    this.ier = value & UART_IER_MASK;
    // The transmitter is always empty, so enabling ETBEI makes THRE pending at once.
    if (enablingThre) this.thrEmptyPending = true;
  }

  private writeFcr(value: number): void {
    const enable = (value & UART_FCR_ENABLE_FIFO) !== 0;
    if (enable !== this.fifoEnabled) {
      this.fifoEnabled = enable;
      this.clearReceiver();
    }
    if (!enable) return;
    if ((value & UART_FCR_CLEAR_RCVR) !== 0) this.clearReceiver();
    // UART_FCR_CLEAR_XMIT: the transmitter is always empty; nothing to clear.
    this.triggerLevelCode = value >>> UART_FCR_TRIGGER_SHIFT;
  }

  private writeMcr(value: number): void {
    const before = this.modemStatusLines();
    this.mcr = value & UART_MCR_MASK;
    this.recordModemDeltas(before, this.modemStatusLines());
  }

  /** IIR read: the highest-priority pending source; reading it reported clears THRE. */
  private readIir(): number {
    const id = this.interruptId();
    if (id === UART_IIR_THRI) this.thrEmptyPending = false;
    return id | (this.fifoEnabled ? UART_IIR_FIFO_ENABLED : 0);
  }

  /** LSR read: error bits clear on read. */
  private readLsr(): number {
    const value = (this.rxCount > 0 ? UART_LSR_DR : 0) | this.lineErrors | UART_LSR_THRE | UART_LSR_TEMT;
    this.lineErrors = 0;
    return value;
  }

  /** MSR read: delta bits clear on read. */
  private readMsr(): number {
    const value = this.modemStatusLines() | this.msrDeltas;
    this.msrDeltas = 0;
    return value;
  }

  // ---- interrupts ----

  /** The IIR interrupt id (bits 0-3) of the highest-priority enabled pending source. */
  private interruptId(): number {
    if ((this.ier & UART_IER_ELSI) !== 0 && this.lineErrors !== 0) return UART_IIR_RLSI;
    if ((this.ier & UART_IER_ERBFI) !== 0 && this.rxCount > 0) {
      return this.rxCount >= this.triggerLevel() ? UART_IIR_RDI : UART_IIR_CTI;
    }
    if ((this.ier & UART_IER_ETBEI) !== 0 && this.thrEmptyPending) return UART_IIR_THRI;
    if ((this.ier & UART_IER_EDSSI) !== 0 && this.msrDeltas !== 0) return UART_IIR_MSI;
    return UART_IIR_NO_INT;
  }

  /** Drive the IRQ line: pending AND OUT2, held low in loopback. */
  private updateIrq(): void {
    const outputEnabled = (this.mcr & UART_MCR_OUT2) !== 0 && !this.isLoopback();
    this.irq.set(outputEnabled && this.interruptId() !== UART_IIR_NO_INT);
  }

  /** RX trigger level: FCR-selected in FIFO mode, 1 otherwise. */
  private triggerLevel(): number {
    return this.fifoEnabled ? UART_FCR_TRIGGER_LEVELS[this.triggerLevelCode]! : 1;
  }

  // ---- modem lines ----

  private isLoopback(): boolean {
    return (this.mcr & UART_MCR_LOOP) !== 0;
  }

  /** MSR bits 4-7: from MCR in loopback, a connected peer otherwise. */
  private modemStatusLines(): number {
    if (!this.isLoopback()) return UART_MODEM_INPUTS_CONNECTED;
    const mcr = this.mcr;
    return (
      ((mcr & UART_MCR_RTS) !== 0 ? UART_MSR_CTS : 0) |
      ((mcr & UART_MCR_DTR) !== 0 ? UART_MSR_DSR : 0) |
      ((mcr & UART_MCR_OUT1) !== 0 ? UART_MSR_RI : 0) |
      ((mcr & UART_MCR_OUT2) !== 0 ? UART_MSR_DCD : 0)
    );
  }

  /** Latch MSR delta bits for a change of the status lines (TERI on RI falling only). */
  private recordModemDeltas(before: number, after: number): void {
    const changed = before ^ after;
    if ((changed & UART_MSR_CTS) !== 0) this.msrDeltas |= UART_MSR_DCTS;
    if ((changed & UART_MSR_DSR) !== 0) this.msrDeltas |= UART_MSR_DDSR;
    if ((before & UART_MSR_RI) !== 0 && (after & UART_MSR_RI) === 0) this.msrDeltas |= UART_MSR_TERI;
    if ((changed & UART_MSR_DCD) !== 0) this.msrDeltas |= UART_MSR_DDCD;
  }

  // ---- receiver FIFO ----

  private rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  private pushReceived(byte: number): void {
    this.rxFifo[(this.rxHead + this.rxCount) % UART_FIFO_SIZE] = byte;
    this.rxCount++;
  }

  private popReceived(): number {
    if (this.rxCount === 0) return 0;
    const byte = this.rxFifo[this.rxHead]!;
    this.rxHead = (this.rxHead + 1) % UART_FIFO_SIZE;
    this.rxCount--;
    return byte;
  }

  /** A byte transmitted in loopback: into the receiver, or an overrun if it is full. */
  private loopbackReceive(byte: number): void {
    if (this.rxCount < this.rxCapacity()) this.pushReceived(byte);
    else this.lineErrors |= UART_LSR_OE;
  }

  private clearReceiver(): void {
    this.rxHead = 0;
    this.rxCount = 0;
  }

  private receivedBytes(): number[] {
    const bytes: number[] = [];
    for (let i = 0; i < this.rxCount; i++) bytes.push(this.rxFifo[(this.rxHead + i) % UART_FIFO_SIZE]!);
    return bytes;
  }

  // ---- Persist ----

  /** Capture all register and FIFO state. */
  save(): Uart16550State {
    return {
      version: UART_STATE_VERSION,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lineErrors: this.lineErrors,
      msrDeltas: this.msrDeltas,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifoEnabled: this.fifoEnabled,
      triggerLevelCode: this.triggerLevelCode,
      thrEmptyPending: this.thrEmptyPending,
      rxFifo: this.receivedBytes(),
    };
  }

  /** Validate `state` completely, then apply it and drive the IRQ line to match. */
  restore(state: unknown): void {
    const valid = this.validateState(state);
    this.ier = valid.ier;
    this.lcr = valid.lcr;
    this.mcr = valid.mcr;
    this.lineErrors = valid.lineErrors;
    this.msrDeltas = valid.msrDeltas;
    this.scr = valid.scr;
    this.dll = valid.dll;
    this.dlm = valid.dlm;
    this.fifoEnabled = valid.fifoEnabled;
    this.triggerLevelCode = valid.triggerLevelCode;
    this.thrEmptyPending = valid.thrEmptyPending;
    this.clearReceiver();
    for (const byte of valid.rxFifo) this.pushReceived(byte);
    this.updateIrq();
  }

  /** Check every field of untrusted state; throws StateError naming the bad field. */
  private validateState(state: unknown): Uart16550State {
    const reader = new StateReader(this.persistId, state);
    const version = reader.version([UART_STATE_VERSION]);
    const lineErrors = reader.int('lineErrors', 0, 0xff);
    if ((lineErrors & ~UART_LSR_ERROR_BITS) !== 0) {
      throw new StateError(this.persistId, 'lineErrors', `bits ${lineErrors} outside OE|PE|FE|BI`);
    }
    const fifoEnabled = reader.bool('fifoEnabled');
    const rxFifo = reader.ints('rxFifo', 0, 0xff, 0, UART_FIFO_SIZE);
    if (!fifoEnabled && rxFifo.length > 1) {
      throw new StateError(this.persistId, 'rxFifo', `${rxFifo.length} bytes but FIFOs are disabled (holds 1)`);
    }
    return {
      version,
      ier: reader.int('ier', 0, UART_IER_MASK),
      lcr: reader.int('lcr', 0, 0xff),
      mcr: reader.int('mcr', 0, UART_MCR_MASK),
      lineErrors,
      msrDeltas: reader.int('msrDeltas', 0, UART_MSR_DELTA_MASK),
      scr: reader.int('scr', 0, 0xff),
      dll: reader.int('dll', 0, 0xff),
      dlm: reader.int('dlm', 0, 0xff),
      fifoEnabled,
      triggerLevelCode: reader.int('triggerLevelCode', 0, UART_FCR_TRIGGER_LEVELS.length - 1),
      thrEmptyPending: reader.bool('thrEmptyPending'),
      rxFifo: [...rxFifo],
    };
  }
}
