// Tests for IrqLine: levels, sink calls only on change, edge counting, late connection.
import { describe, expect, it } from 'vitest';
import { IrqLine } from '../../../src/bus/index.js';

describe('IrqLine', () => {
  it('calls the sink only on level changes and counts rising edges', () => {
    const levels: boolean[] = [];
    const line = new IrqLine('irq4', (level) => levels.push(level));
    expect(line.name).toBe('irq4');
    expect(line.level).toBe(false);
    line.raise();
    line.raise();
    line.set(true);
    line.lower();
    line.lower();
    line.set(true);
    expect(levels).toEqual([true, false, true]);
    expect(line.level).toBe(true);
    expect(line.raiseCount).toBe(2);
  });

  it('pulse gives one edge and ends low', () => {
    const levels: boolean[] = [];
    const line = new IrqLine('irq0', (level) => levels.push(level));
    line.pulse();
    line.pulse();
    expect(levels).toEqual([true, false, true, false]);
    expect(line.raiseCount).toBe(2);
    expect(line.level).toBe(false);
  });

  it('works without a sink and tells a late sink the line is already high', () => {
    const line = new IrqLine('irq1');
    line.raise();
    const levels: boolean[] = [];
    line.connect((level) => levels.push(level));
    expect(levels).toEqual([true]);
    line.lower();
    expect(levels).toEqual([true, false]);
    const quiet: boolean[] = [];
    line.connect((level) => quiet.push(level));
    expect(quiet).toEqual([]);
  });
});
