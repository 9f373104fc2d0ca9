// Tests for the isa-debug-exit style device and the QEMU exit-status helper.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/bus/index.js';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, DebugExit, qemuDebugExitStatus } from '../../../src/devices/debug-exit/index.js';

describe('DebugExit', () => {
  it('at one port, a wider write is split by the bus: the low byte exits once', () => {
    const exits: number[] = [];
    const bus = new IoBus();
    bus.register(new DebugExit({ onExit: (v) => exits.push(v) }), DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT);
    bus.write(DEBUG_EXIT_PORT, 1, 0x31);
    bus.write(DEBUG_EXIT_PORT, 4, 0xdeadbeef);
    expect(exits).toEqual([0x31, 0xef]);
    expect(bus.unclaimedWrites).toBe(3);
  });

  it('registered over 4 ports (QEMU iosize=4), gets 1-, 2- and 4-byte values whole', () => {
    const exits: number[] = [];
    const bus = new IoBus();
    bus.register(new DebugExit({ onExit: (v) => exits.push(v) }), DEBUG_EXIT_PORT, 4);
    bus.write(DEBUG_EXIT_PORT, 1, 0x31);
    bus.write(DEBUG_EXIT_PORT, 2, 0x1234);
    bus.write(DEBUG_EXIT_PORT, 4, 0xdeadbeef);
    expect(exits).toEqual([0x31, 0x1234, 0xdeadbeef]);
  });

  it('reads all ones', () => {
    const bus = new IoBus();
    bus.register(new DebugExit({ onExit: () => {} }), DEBUG_EXIT_PORT, 1);
    expect(bus.read(DEBUG_EXIT_PORT, 1)).toBe(0xff);
    expect(bus.read(DEBUG_EXIT_PORT, 2)).toBe(0xffff);
    expect(bus.read(DEBUG_EXIT_PORT, 4)).toBe(0xffffffff);
  });

  it('maps a written value to the QEMU process exit status', () => {
    expect(qemuDebugExitStatus(0)).toBe(1);
    expect(qemuDebugExitStatus(1)).toBe(3);
    expect(qemuDebugExitStatus(0x10)).toBe(33);
    expect(qemuDebugExitStatus(0x7f)).toBe(0xff);
    expect(qemuDebugExitStatus(0x80)).toBe(1);
  });
});
