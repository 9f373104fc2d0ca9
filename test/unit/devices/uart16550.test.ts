// Tests for the 16550A UART: registers, FIFO, interrupts and their priorities, loopback, Persist.
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus, IrqLine } from '../../../src/bus/index.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  UART_FCR,
  UART_FCR_CLEAR_RCVR,
  UART_FCR_ENABLE_FIFO,
  UART_IER,
  UART_IER_EDSSI,
  UART_IER_ELSI,
  UART_IER_ERBFI,
  UART_IER_ETBEI,
  UART_IIR,
  UART_IIR_CTI,
  UART_IIR_MSI,
  UART_IIR_NO_INT,
  UART_IIR_RDI,
  UART_IIR_RLSI,
  UART_IIR_THRI,
  UART_LCR,
  UART_LCR_DLAB,
  UART_LSR,
  UART_LSR_DR,
  UART_LSR_OE,
  UART_LSR_TEMT,
  UART_LSR_THRE,
  UART_MCR,
  UART_MCR_DTR,
  UART_MCR_LOOP,
  UART_MCR_OUT1,
  UART_MCR_OUT2,
  UART_MCR_RTS,
  UART_MSR,
  UART_MSR_CTS,
  UART_MSR_DCD,
  UART_MSR_DCTS,
  UART_MSR_DDCD,
  UART_MSR_DDSR,
  UART_MSR_DSR,
  UART_MSR_RI,
  UART_MSR_TERI,
  UART_SCR,
  Uart16550,
} from '../../../src/devices/uart16550/index.js';

const COM1 = 0x3f8;

/** A UART on a bus at COM1 with a recorded IRQ line and transmit sink. */
function makeUart() {
  const levels: boolean[] = [];
  const irq = new IrqLine('irq4', (level) => levels.push(level));
  const sent: number[] = [];
  const uart = new Uart16550({ id: 'uart0', irq, transmit: (byte) => sent.push(byte) });
  const bus = new IoBus();
  bus.register(uart, COM1, 8);
  const read = (reg: number) => bus.read(COM1 + reg, 1);
  const write = (reg: number, value: number) => bus.write(COM1 + reg, 1, value);
  return { uart, irq, levels, sent, bus, read, write };
}

type Rig = ReturnType<typeof makeUart>;

/** Interrupt id bits of IIR (without the FIFO bits). */
function iirId(rig: Rig): number {
  return rig.read(UART_IIR) & 0x0f;
}

describe('Uart16550 registers', () => {
  let rig: Rig;
  beforeEach(() => {
    rig = makeUart();
  });

  it('has the 16550A reset values', () => {
    expect(rig.read(UART_IER)).toBe(0);
    expect(rig.read(UART_IIR)).toBe(UART_IIR_NO_INT);
    expect(rig.read(UART_LCR)).toBe(0);
    expect(rig.read(UART_MCR)).toBe(0);
    expect(rig.read(UART_LSR)).toBe(UART_LSR_THRE | UART_LSR_TEMT);
    expect(rig.irq.level).toBe(false);
  });

  it('DLAB switches offsets 0/1 between RBR/THR/IER and the divisor latch', () => {
    rig.write(UART_IER, UART_IER_ERBFI);
    rig.write(UART_LCR, UART_LCR_DLAB | 0x03);
    rig.write(0, 0x01);
    rig.write(1, 0x02);
    expect(rig.sent).toEqual([]);
    expect(rig.read(0)).toBe(0x01);
    expect(rig.read(1)).toBe(0x02);
    rig.write(UART_LCR, 0x03);
    expect(rig.read(UART_IER)).toBe(UART_IER_ERBFI);
    rig.uart.receive(0x41);
    expect(rig.read(0)).toBe(0x41);
    rig.write(0, 0x42);
    expect(rig.sent).toEqual([0x42]);
    rig.write(UART_LCR, UART_LCR_DLAB);
    expect(rig.read(0)).toBe(0x01);
    expect(rig.read(1)).toBe(0x02);
  });

  it('keeps the scratch register and reads LCR and MCR back', () => {
    rig.write(UART_SCR, 0x5a);
    expect(rig.read(UART_SCR)).toBe(0x5a);
    rig.write(UART_LCR, 0x1b);
    expect(rig.read(UART_LCR)).toBe(0x1b);
    rig.write(UART_MCR, 0xff);
    expect(rig.read(UART_MCR)).toBe(0x1f);
    rig.write(UART_IER, 0xff);
    expect(rig.read(UART_IER)).toBe(0x0f);
  });

  it('transmits instantly: THRE and TEMT stay set', () => {
    for (const ch of 'hi\n') rig.write(0, ch.charCodeAt(0));
    expect(rig.sent).toEqual([0x68, 0x69, 0x0a]);
    expect(rig.read(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)).toBe(UART_LSR_THRE | UART_LSR_TEMT);
  });

  it('treats a 16-bit access as two byte accesses', () => {
    rig.bus.write(COM1 + UART_LCR, 2, (UART_MCR_OUT2 << 8) | 0x03);
    expect(rig.read(UART_LCR)).toBe(0x03);
    expect(rig.read(UART_MCR)).toBe(UART_MCR_OUT2);
    expect(rig.bus.read(COM1 + UART_LCR, 2)).toBe((UART_MCR_OUT2 << 8) | 0x03);
  });
});

describe('Uart16550 receiver', () => {
  let rig: Rig;
  beforeEach(() => {
    rig = makeUart();
  });

  it('holds one byte without FIFOs and pushes back on the next', () => {
    expect(rig.uart.rxSpace()).toBe(1);
    expect(rig.uart.receive(0x31)).toBe(true);
    expect(rig.uart.rxSpace()).toBe(0);
    expect(rig.uart.receive(0x32)).toBe(false);
    expect(rig.read(UART_LSR) & (UART_LSR_DR | UART_LSR_OE)).toBe(UART_LSR_DR);
    expect(rig.read(0)).toBe(0x31);
    expect(rig.read(UART_LSR) & UART_LSR_DR).toBe(0);
    expect(rig.read(0)).toBe(0);
    expect(rig.uart.receive(0x32)).toBe(true);
  });

  it('buffers 16 bytes in FIFO mode, refuses the 17th, and keeps order', () => {
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO);
    for (let i = 0; i < 16; i++) expect(rig.uart.receive(i + 1)).toBe(true);
    expect(rig.uart.receive(99)).toBe(false);
    expect(rig.uart.rxSpace()).toBe(0);
    expect(rig.read(UART_LSR) & UART_LSR_OE).toBe(0);
    const got: number[] = [];
    while (rig.read(UART_LSR) & UART_LSR_DR) got.push(rig.read(0));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(rig.uart.rxSpace()).toBe(16);
  });

  it('FCR clear-receiver empties the FIFO; toggling FIFO enable clears it too', () => {
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO);
    rig.uart.receive(1);
    rig.uart.receive(2);
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
    expect(rig.read(UART_LSR) & UART_LSR_DR).toBe(0);
    rig.uart.receive(3);
    rig.write(UART_FCR, 0);
    expect(rig.read(UART_LSR) & UART_LSR_DR).toBe(0);
    expect(rig.uart.rxSpace()).toBe(1);
  });

  it('reports IIR bits 6-7 only with FIFOs enabled', () => {
    expect(rig.read(UART_IIR) & 0xc0).toBe(0);
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO);
    expect(rig.read(UART_IIR) & 0xc0).toBe(0xc0);
  });

  it.each([
    [0x00, 1],
    [0x40, 4],
    [0x80, 8],
    [0xc0, 14],
  ])('FCR trigger bits %i: data-available at %i bytes, timeout below', (bits, level) => {
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO | bits);
    rig.write(UART_IER, UART_IER_ERBFI);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
    for (let i = 1; i < level; i++) {
      rig.uart.receive(i);
      expect(iirId(rig)).toBe(UART_IIR_CTI);
    }
    rig.uart.receive(0x55);
    expect(iirId(rig)).toBe(UART_IIR_RDI);
    rig.read(0);
    expect(iirId(rig)).toBe(level === 1 ? UART_IIR_NO_INT : UART_IIR_CTI);
  });

  it('rejects a non-byte', () => {
    expect(() => rig.uart.receive(256)).toThrow(RangeError);
  });
});

describe('Uart16550 interrupts', () => {
  let rig: Rig;
  beforeEach(() => {
    rig = makeUart();
  });

  it('THRE is pending when ETBEI is enabled, cleared by reading IIR, re-armed by a THR write', () => {
    rig.write(UART_MCR, UART_MCR_OUT2);
    rig.write(UART_IER, UART_IER_ETBEI);
    expect(rig.irq.level).toBe(true);
    expect(iirId(rig)).toBe(UART_IIR_THRI);
    expect(rig.irq.level).toBe(false);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
    const edges = rig.irq.raiseCount;
    rig.write(0, 0x41);
    expect(rig.irq.level).toBe(true);
    expect(rig.irq.raiseCount).toBe(edges + 1);
    // Each THR write clears THRE and sets it again: a fresh edge even if the line was high.
    rig.write(0, 0x42);
    expect(rig.irq.raiseCount).toBe(edges + 2);
    expect(rig.levels.slice(-2)).toEqual([false, true]);
  });

  it('re-enabling ETBEI re-arms THRE; disabling masks it', () => {
    rig.write(UART_MCR, UART_MCR_OUT2);
    rig.write(UART_IER, UART_IER_ETBEI);
    rig.write(UART_IER, 0);
    expect(rig.irq.level).toBe(false);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
    rig.write(UART_IER, UART_IER_ETBEI);
    expect(iirId(rig)).toBe(UART_IIR_THRI);
  });

  it('the IRQ line is gated by MCR OUT2', () => {
    rig.write(UART_IER, UART_IER_ERBFI);
    rig.uart.receive(0x61);
    expect(iirId(rig)).toBe(UART_IIR_RDI);
    expect(rig.irq.level).toBe(false);
    rig.write(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
    expect(rig.irq.level).toBe(true);
    rig.write(UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
    expect(rig.irq.level).toBe(false);
    rig.write(UART_MCR, UART_MCR_OUT2);
    expect(rig.irq.level).toBe(true);
    rig.read(0);
    expect(rig.irq.level).toBe(false);
  });

  it('orders sources: line status > received data > THRE > modem status', () => {
    rig.write(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI | UART_IER_ELSI | UART_IER_EDSSI);
    // Loopback lets the test create every source: an overrun, data, THRE and MSR deltas.
    rig.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
    rig.write(0, 0x01);
    rig.write(0, 0x02); // overrun: the 1-byte holding register is full
    expect(iirId(rig)).toBe(UART_IIR_RLSI);
    expect(rig.read(UART_LSR) & (UART_LSR_OE | UART_LSR_DR)).toBe(UART_LSR_OE | UART_LSR_DR);
    expect(rig.read(UART_LSR) & UART_LSR_OE).toBe(0);
    expect(iirId(rig)).toBe(UART_IIR_RDI);
    expect(rig.read(0)).toBe(0x01);
    expect(iirId(rig)).toBe(UART_IIR_THRI);
    expect(iirId(rig)).toBe(UART_IIR_MSI);
    // Entering loopback with RTS only: CTS stays up, DSR and DCD drop.
    expect(rig.read(UART_MSR) & 0x0f).toBe(UART_MSR_DDSR | UART_MSR_DDCD);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
  });

  it('receiver line status needs ELSI', () => {
    rig.write(UART_MCR, UART_MCR_LOOP);
    rig.write(0, 1);
    rig.write(0, 2);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
    expect(rig.read(UART_LSR) & UART_LSR_OE).toBe(UART_LSR_OE);
  });
});

describe('Uart16550 loopback and modem status', () => {
  let rig: Rig;
  beforeEach(() => {
    rig = makeUart();
  });

  it('loops transmitted bytes into the receiver, not to the host', () => {
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO);
    rig.write(UART_MCR, UART_MCR_LOOP);
    rig.write(0, 0xa5);
    rig.write(0, 0x5a);
    expect(rig.sent).toEqual([]);
    expect(rig.read(0)).toBe(0xa5);
    expect(rig.read(0)).toBe(0x5a);
    expect(rig.uart.rxSpace()).toBe(0);
    expect(rig.uart.receive(0x30)).toBe(false);
    rig.write(UART_MCR, 0);
    rig.write(0, 0x77);
    expect(rig.sent).toEqual([0x77]);
  });

  it('holds the IRQ line low in loopback while IIR still reports', () => {
    rig.write(UART_IER, UART_IER_ERBFI);
    rig.write(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
    rig.write(0, 0x11);
    expect(iirId(rig)).toBe(UART_IIR_RDI);
    expect(rig.irq.level).toBe(false);
    rig.write(UART_MCR, UART_MCR_OUT2);
    expect(rig.irq.level).toBe(true);
  });

  it('MSR status follows MCR in loopback with delta bits, cleared by reading MSR', () => {
    expect(rig.read(UART_MSR)).toBe(UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
    rig.write(UART_MCR, UART_MCR_LOOP);
    // Entering loopback drops CTS, DSR, DCD (all outputs off): their deltas latch.
    expect(rig.read(UART_MSR)).toBe(UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    expect(rig.read(UART_MSR)).toBe(0);
    rig.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT1 | UART_MCR_OUT2);
    expect(rig.read(UART_MSR)).toBe(
      UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD,
    );
    // RI falling gives TERI; RI rising does not.
    rig.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT2);
    expect(rig.read(UART_MSR) & 0x0f).toBe(UART_MSR_TERI);
  });

  it('modem status interrupt follows EDSSI and the delta bits', () => {
    rig.write(UART_IER, UART_IER_EDSSI);
    rig.write(UART_MCR, UART_MCR_LOOP);
    expect(iirId(rig)).toBe(UART_IIR_MSI);
    rig.read(UART_MSR);
    expect(iirId(rig)).toBe(UART_IIR_NO_INT);
  });
});

describe('Uart16550 Persist', () => {
  it('round-trips registers, FIFO contents and the IRQ level', () => {
    const a = makeUart();
    a.write(UART_LCR, UART_LCR_DLAB);
    a.write(0, 0x01);
    a.write(1, 0x00);
    a.write(UART_LCR, 0x03);
    a.write(UART_FCR, UART_FCR_ENABLE_FIFO | 0x80);
    a.write(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
    a.write(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR);
    a.write(UART_SCR, 0x99);
    for (const byte of [1, 2, 3, 4, 5, 6, 7, 8, 9]) a.uart.receive(byte);
    a.read(0);
    const state = a.uart.save();
    expect(a.irq.level).toBe(true);

    const b = makeUart();
    b.uart.restore(structuredClone(state));
    expect(b.irq.level).toBe(true);
    expect(b.uart.save()).toEqual(state);
    expect(iirId(b)).toBe(UART_IIR_RDI);
    const got: number[] = [];
    while (b.read(UART_LSR) & UART_LSR_DR) got.push(b.read(0));
    expect(got).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(iirId(b)).toBe(UART_IIR_THRI);
    b.write(UART_LCR, UART_LCR_DLAB);
    expect([b.read(0), b.read(1)]).toEqual([1, 0]);
    b.write(UART_LCR, 0x03);
    expect(b.read(UART_SCR)).toBe(0x99);
  });

  it('restore lowers the line when the saved state has nothing pending', () => {
    const idle = makeUart().uart.save();
    const rig = makeUart();
    rig.write(UART_MCR, UART_MCR_OUT2);
    rig.write(UART_IER, UART_IER_ETBEI);
    expect(rig.irq.level).toBe(true);
    rig.uart.restore(idle);
    expect(rig.irq.level).toBe(false);
  });

  it.each([
    ['ier', { ier: 0x10 }],
    ['mcr', { mcr: 0x20 }],
    ['lineErrors', { lineErrors: UART_LSR_DR }],
    ['triggerLevelCode', { triggerLevelCode: 4 }],
    ['fifoEnabled', { fifoEnabled: 1 }],
    ['rxFifo', { fifoEnabled: false, rxFifo: [1, 2] }],
    ['rxFifo[1]', { rxFifo: [1, 256] }],
    ['version', { version: 99 }],
  ])('rejects a corrupt %s naming the field and leaves the device unchanged', (field, patch) => {
    const rig = makeUart();
    rig.write(UART_FCR, UART_FCR_ENABLE_FIFO);
    rig.uart.receive(0x42);
    const before = rig.uart.save();
    const bad = { ...before, ...patch };
    let error: unknown;
    try {
      rig.uart.restore(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateError);
    expect((error as Error).message).toContain(`'${field}'`);
    expect((error as Error).message).toContain('uart0');
    expect(rig.uart.save()).toEqual(before);
  });

  it('rejects a non-object', () => {
    expect(() => makeUart().uart.restore(null)).toThrow(StateError);
  });
});
