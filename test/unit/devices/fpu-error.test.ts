/**
 * The PC/AT coprocessor-error latch (src/devices/fpu-error): FERR# rising edges set it and
 * raise IRQ 13, a write to port F0h clears it, and its state survives save→restore.
 */
import { describe, expect, it } from 'vitest';
import { IrqLine } from '../../../src/bus/irq.js';
import { FpuErrorLatch } from '../../../src/devices/fpu-error/fpu-error.js';
import { StateError } from '../../../src/persist/persist.js';

describe('coprocessor-error latch', () => {
  it('FERR# rising edge raises IRQ 13; a write to F0h clears it; a still-asserted FERR# does not set it again', () => {
    const irq = new IrqLine('irq13');
    const latch = new FpuErrorLatch(irq);
    latch.setFerr(true);
    expect(irq.level).toBe(true);
    latch.ioWrite();
    expect(irq.level).toBe(false);
    latch.setFerr(true);
    expect(irq.level).toBe(false);
    latch.setFerr(false);
    latch.setFerr(true);
    expect(irq.level).toBe(true);
    expect(irq.raiseCount).toBe(2);
    expect(latch.ioRead(0, 1)).toBe(0xff);
  });

  it('save→restore keeps the latch and the FERR# level; bad state is refused naming the field', () => {
    const irq = new IrqLine('irq13');
    const latch = new FpuErrorLatch(irq);
    latch.setFerr(true);
    const copyIrq = new IrqLine('irq13 copy');
    const copy = new FpuErrorLatch(copyIrq);
    copy.restore(latch.save());
    expect(copyIrq.level).toBe(true);
    copy.ioWrite();
    copy.setFerr(true); // still asserted: no new edge
    expect(copyIrq.level).toBe(false);
    expect(() => copy.restore({ version: 1, latched: 1, ferr: false })).toThrow(StateError);
    expect(() => copy.restore({ version: 1, latched: true })).toThrow(/'ferr'/);
  });
});
