/**
 * The whole machine's state (src/machine/machine-state.ts, PcMachine.saveState /
 * restoreState) and the RAM frame transfer of GuestMemory (transferableFrames, readFrame,
 * writeFrame).
 *
 * The determinism check of issue 7 at unit scale: a guest run without interruption and the
 * same guest stopped at several tick counts, each time saved, its RAM copied frame by frame
 * into a fresh machine (same config, on a second Host: another frame pool) and restored
 * there, must print the same serial output byte for byte and end in the same state (every
 * component's saved state and a hash of RAM). Guests: our memory-dirtying guest
 * (guests/dirty, short build: PIT-paced batches, the 8259 and the local APIC in virtual-wire
 * mode, HLT between batches) and pm-paging (paging, TLB, page faults).
 *
 * Then: the state is plain data (structuredClone and JSON round trips restore to the same
 * state), and corrupt states are refused naming the problem, leaving the machine exactly as
 * it was (same state, same RAM, and it still runs to the same output).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EventQueue, InputKind } from '../../../src/machine/event-queue.js';
import type { MachineState } from '../../../src/machine/machine-state.js';
import { VmClock, type ClockedCpu } from '../../../src/machine/vm-clock.js';
import type { PcMachine, StopReason } from '../../../src/machine/pc.js';
import { FRAME_SIZE } from '../../../src/memory/frame-pool.js';
import { StateError } from '../../../src/persist/persist.js';
import { Host } from '../../../src/vmm/host.js';
import { ramHash } from '../../helpers/ram-hash.js';

const GUESTS = new URL('../../../guests/', import.meta.url);
const MEMORY_BYTES = 16 << 20;
/** Far more than either guest needs (the short dirty guest runs about 15 million). */
const TICK_LIMIT = 400_000_000;

/** The final line the short dirty guest prints, as QEMU 7.2 (TCG) printed it for the same ROM. */
const DIRTY_SHORT_QEMU_FINAL_LINE = 'dirty: done iterations=120 pages=480 checksum=AF453A6A errors=0';

/** A machine built from a guest ROM with its serial output collected. */
interface Booted {
  readonly host: Host;
  readonly name: string;
  readonly vm: PcMachine;
}

const hosts: Host[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) for (const name of host.machineNames) host.destroyMachine(name);
});

function newHost(): Host {
  const host = new Host({ maxFrames: 16384 });
  hosts.push(host);
  return host;
}

function romOf(image: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(image, GUESTS)));
}

/** Build a machine for `image` on `host`; every COM1 byte is appended to `serial.bytes`. */
function boot(host: Host, name: string, image: string, serial: { bytes: number[] }): Booted {
  const vm = host.createMachine(name, {
    memoryBytes: MEMORY_BYTES,
    rom: { name: image, data: romOf(image) },
    serialOut: (b) => { serial.bytes.push(b); },
  });
  return { host, name, vm };
}

/** Copy every transferable RAM frame of `from` into `to` (the same config: the same frames). */
function copyRam(from: PcMachine, to: PcMachine): void {
  const frames = from.memory.transferableFrames();
  expect(Array.from(to.memory.transferableFrames())).toEqual(Array.from(frames));
  const buffer = new Uint8Array(FRAME_SIZE);
  for (const f of frames) {
    from.memory.readFrame(f, buffer);
    to.memory.writeFrame(f, buffer);
  }
}

/** What a whole run produced. */
interface RunResult {
  readonly stop: StopReason;
  readonly serial: string;
  readonly state: MachineState;
  readonly ram: string;
  readonly ticks: number;
}

/** Run `image` from power-on to its exit on one machine. */
function runUninterrupted(image: string): RunResult {
  const serial = { bytes: [] as number[] };
  const { vm } = boot(newHost(), 'whole', image, serial);
  const stop = vm.run(TICK_LIMIT);
  return { stop, serial: Buffer.from(serial.bytes).toString('latin1'), state: vm.saveState(), ram: ramHash(vm), ticks: vm.clock.ticks() };
}

/**
 * Run `image` to its exit, moving it at each tick count of `stops` (ascending) into a fresh
 * machine on the other of two hosts: saveState, copy RAM, restoreState, continue there.
 */
function runMoved(image: string, stops: readonly number[]): RunResult & { readonly moves: number } {
  const serial = { bytes: [] as number[] };
  const twoHosts = [newHost(), newHost()];
  let current = boot(twoHosts[0], 'vm0', image, serial);
  let moves = 0;
  for (const at of stops) {
    const stop = current.vm.run(at - current.vm.clock.ticks());
    expect(stop.kind, `stop before tick ${at}`).toBe('limit');
    // The CPU stops at the first instruction boundary at or after the budget (an I/O access
    // takes 100 ticks), so the stop may lie a few ticks past `at`.
    expect(current.vm.clock.ticks()).toBeGreaterThanOrEqual(at);
    const state = current.vm.saveState();
    moves++;
    // The destination gets its own (unused) serial sink until it is restored: nothing may
    // reach the guest's output from building or restoring it.
    const silent = { bytes: [] as number[] };
    const next = boot(twoHosts[moves % 2], `vm${moves}`, image, silent);
    copyRam(current.vm, next.vm);
    next.vm.restoreState(structuredClone(state)); // as it arrives from another host
    expect(silent.bytes).toEqual([]);
    current.host.destroyMachine(current.name);
    // From here on the moved machine's output continues the same stream (its sink reads
    // `silent.bytes` at each byte).
    silent.bytes = serial.bytes;
    current = next;
  }
  const stop = current.vm.run(TICK_LIMIT);
  return { stop, serial: Buffer.from(serial.bytes).toString('latin1'), state: current.vm.saveState(), ram: ramHash(current.vm), ticks: current.vm.clock.ticks(), moves };
}

/** Tick counts spread over a run of `total` ticks: one very early, the rest at fractions. */
function stopsOver(total: number): number[] {
  return [2_000, ...[0.13, 0.37, 0.5, 0.71, 0.94].map((f) => Math.floor(total * f))];
}

describe('machine state: a moved run equals an unmoved run', () => {
  it('the short dirty guest exits 0 with the checksum QEMU printed for the same ROM', () => {
    const whole = runUninterrupted('dirty/dirty-short.bin');
    expect(whole.stop).toEqual({ kind: 'exit', value: 0 });
    const lines = whole.serial.split('\r\n');
    expect(lines[0]).toBe('# dirty: memory-dirtying workload');
    expect(lines.filter((l) => l.startsWith('dirty: iteration='))).toHaveLength(6);
    expect(whole.serial).not.toContain('ERROR');
    expect(lines).toContain(DIRTY_SHORT_QEMU_FINAL_LINE);
  });

  for (const image of ['dirty/dirty-short.bin', 'pm/pm-paging.bin']) {
    it(`${image}: moved 6 times between two hosts, same serial output byte for byte and same final state`, () => {
      const whole = runUninterrupted(image);
      expect(whole.stop).toEqual({ kind: 'exit', value: 0 });
      const moved = runMoved(image, stopsOver(whole.ticks));
      expect(moved.moves).toBe(6);
      expect(moved.stop).toEqual(whole.stop);
      expect(moved.serial).toBe(whole.serial);
      expect(moved.ticks).toBe(whole.ticks);
      expect(moved.state).toEqual(whole.state);
      expect(moved.ram).toBe(whole.ram);
    });
  }

  it('restoring an earlier state into the same machine rewinds it: the rest of the run repeats exactly', () => {
    const serial = { bytes: [] as number[] };
    const { vm } = boot(newHost(), 'rewind', 'dirty/dirty-short.bin', serial);
    expect(vm.run(3_000_000).kind).toBe('limit');
    const state = vm.saveState();
    const frames = vm.memory.transferableFrames();
    const saved = new Uint8Array(frames.length * FRAME_SIZE);
    frames.forEach((f, k) => vm.memory.readFrame(f, saved, k * FRAME_SIZE));
    const outputBefore = serial.bytes.length;
    expect(vm.run(TICK_LIMIT)).toEqual({ kind: 'exit', value: 0 });
    const firstTail = serial.bytes.slice(outputBefore);
    const firstEnd = { state: vm.saveState(), ram: ramHash(vm) };

    frames.forEach((f, k) => vm.memory.writeFrame(f, saved, k * FRAME_SIZE));
    vm.restoreState(state);
    expect(vm.exitCode).toBeNull();
    expect(vm.saveState()).toEqual(state);
    const rewound = serial.bytes.length;
    expect(vm.run(TICK_LIMIT)).toEqual({ kind: 'exit', value: 0 });
    expect(serial.bytes.slice(rewound)).toEqual(firstTail);
    expect(vm.saveState()).toEqual(firstEnd.state);
    expect(ramHash(vm)).toBe(firstEnd.ram);
  });
});

describe('machine state: shape and plain data', () => {
  it('has one entry per component, keyed by id, each with its own version; the platform and PCI components are all there', () => {
    const { vm } = boot(newHost(), 'shape', 'dirty/dirty-short.bin', { bytes: [] });
    const state = vm.saveState();
    expect(state.version).toBe(1);
    const ids = Object.keys(state.components);
    expect(ids).toEqual(vm.persistables().map((p) => p.persistId));
    for (const required of ['board', 'input0', 'pci0', 'uart0', 'cpu0', 'clock0', ...vm.platform.persistables().map((p) => p.persistId)]) {
      expect(ids).toContain(required);
    }
    for (const id of ids) expect(Number.isInteger(state.components[id]!.version)).toBe(true);
    expect(state.components.board).toMatchObject({ memoryBytes: MEMORY_BYTES, exited: false, pendingChipsetAction: 'none', resets: 0 });
  });

  it('a machine with virtio devices saves the PCI functions too, and restores them into a fresh machine', () => {
    const host = newHost();
    const config = { memoryBytes: MEMORY_BYTES, rom: { name: 'dirty', data: romOf('dirty/dirty-short.bin') }, pci: { console: { onOutput: () => {} } } };
    const a = host.createMachine('a', config);
    expect(a.run(500_000).kind).toBe('limit');
    const state = a.saveState();
    expect(Object.keys(state.components)).toContain('virtio-console0');
    const b = host.createMachine('b', config);
    copyRam(a, b);
    b.restoreState(structuredClone(state));
    expect(b.saveState()).toEqual(state);
  });

  it('survives structuredClone and JSON: restoring the copy into a fresh machine gives the same state', () => {
    const host = newHost();
    const serialA = { bytes: [] as number[] };
    const a = boot(host, 'a', 'dirty/dirty-short.bin', serialA).vm;
    expect(a.run(4_000_000).kind).toBe('limit');
    const state = a.saveState();
    for (const [k, copy] of [structuredClone(state), JSON.parse(JSON.stringify(state)) as unknown].entries()) {
      const b = boot(host, `b${k}`, 'dirty/dirty-short.bin', { bytes: [] }).vm;
      copyRam(a, b);
      b.restoreState(copy);
      expect(b.saveState()).toEqual(state);
      expect(ramHash(b)).toBe(ramHash(a));
    }
  });

  it('an event queued for later is part of the state and is delivered at its tick after a move', () => {
    const host = newHost();
    const a = boot(host, 'a', 'dirty/dirty-short.bin', { bytes: [] }).vm;
    expect(a.run(100_000).kind).toBe('limit');
    a.sendSerial(new Uint8Array([0x41, 0x42]), 1_000_000);
    const state = a.saveState();
    expect(state.components.input0).toEqual({ version: 1, events: [{ at: 1_000_000, kind: 1, value: 0x41 }, { at: 1_000_000, kind: 1, value: 0x42 }] });
    const b = boot(host, 'b', 'dirty/dirty-short.bin', { bytes: [] }).vm;
    copyRam(a, b);
    b.restoreState(state);
    expect(b.input.length).toBe(2);
    expect(b.run(1_000_000 - b.clock.ticks() - 1).kind).toBe('limit');
    expect(b.uart.save().rxFifo).toEqual([]);
    expect(b.run(10).kind).toBe('limit');
    expect(b.uart.save().rxFifo).toEqual([0x41, 0x42]);
    expect(b.input.length).toBe(0);
  });
});

describe('machine state: corrupt states are refused and change nothing', () => {
  /** A machine partway through the dirty guest, and a state saved from another point of the same run. */
  function machineAndForeignState(): { vm: PcMachine; other: MachineState } {
    const host = newHost();
    const other = boot(host, 'other', 'dirty/dirty-short.bin', { bytes: [] }).vm;
    expect(other.run(700_000).kind).toBe('limit');
    const vm = boot(host, 'vm', 'dirty/dirty-short.bin', { bytes: [] }).vm;
    expect(vm.run(300_000).kind).toBe('limit');
    return { vm, other: other.saveState() };
  }

  /** Deep copy of `state` with `edit` applied to the copy's components. */
  function corrupted(state: MachineState, edit: (components: Record<string, Record<string, unknown>>) => void): Record<string, unknown> {
    const copy = structuredClone(state) as unknown as { components: Record<string, Record<string, unknown>> };
    edit(copy.components);
    return copy as unknown as Record<string, unknown>;
  }

  const CASES: readonly [string, (s: MachineState) => unknown, RegExp][] = [
    ['not an object', () => 42, /machine: .*'\(root\)'.*not an object/],
    ['wrong envelope version', (s) => ({ ...s, version: 99 }), /machine: .*'version'.*unsupported version 99/],
    ['components missing', (s) => ({ version: s.version }), /machine: .*'components'/],
    ['unknown component', (s) => corrupted(s, (c) => { c['gpu0'] = { version: 1 }; }), /machine: .*'components\.gpu0'.*unknown component 'gpu0'/],
    ['missing component', (s) => corrupted(s, (c) => { delete c['pit']; }), /machine: .*'components\.pit'.*missing/],
    ['component that is not an object', (s) => corrupted(s, (c) => { (c as Record<string, unknown>)['rtc'] = [1, 2]; }), /rtc: .*'\(root\)'.*an array/],
    ['component without a version', (s) => corrupted(s, (c) => { delete c['uart0']!['version']; }), /uart0: .*'version'/],
    ['wrong component version', (s) => corrupted(s, (c) => { c['lapic']!['version'] = 77; }), /lapic: .*'version'.*unsupported version 77/],
    ['bad CPU field (applied after most devices: exercises the roll-back)', (s) => corrupted(s, (c) => { c['cpu0']!['eip'] = -5; }), /cpu0: .*'eip'/],
    ['bad clock field (the last component)', (s) => corrupted(s, (c) => { c['clock0']!['nsPerTick'] = 7; }), /clock0: .*'nsPerTick'.*7 ns per tick/],
    ['clock disagreeing with the CPU', (s) => corrupted(s, (c) => { c['clock0']!['ticks'] = (c['clock0']!['ticks'] as number) + 1; }), /clock0: .*'ticks'.*differs from the CPU/],
    ['bad board field', (s) => corrupted(s, (c) => { c['board']!['pendingChipsetAction'] = 'explode'; }), /board: .*'pendingChipsetAction'/],
    ['board from a machine with other RAM', (s) => corrupted(s, (c) => { c['board']!['memoryBytes'] = 32 << 20; }), /board: .*'memoryBytes'.*33554432/],
    ['bad input event', (s) => corrupted(s, (c) => { c['input0']!['events'] = [{ at: 5, kind: 9, value: 1 }]; }), /input0: .*'events\[0\]\.kind'/],
    ['bad PIC field in the middle', (s) => corrupted(s, (c) => { delete (c['pic']!['master'] as Record<string, unknown>)['irr']; }), /pic: /],
  ];

  for (const [what, make, message] of CASES) {
    it(`refuses ${what}, naming it, and leaves the machine as it was`, () => {
      const { vm, other } = machineAndForeignState();
      const before = vm.saveState();
      const ramBefore = ramHash(vm);
      let thrown: unknown = null;
      try {
        vm.restoreState(make(other));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(StateError);
      expect((thrown as Error).message).toMatch(message);
      expect(vm.saveState()).toEqual(before);
      expect(ramHash(vm)).toBe(ramBefore);
    });
  }

  it('after a refused restore (rolled back late) the machine still runs to the same result as an untouched one', () => {
    const { vm, other } = machineAndForeignState();
    const serial = { bytes: [] as number[] };
    const twin = boot(newHost(), 'twin', 'dirty/dirty-short.bin', serial).vm;
    expect(twin.run(300_000).kind).toBe('limit');
    const bad = corrupted(other, (c) => { c['clock0']!['nsPerTick'] = 7; });
    expect(() => vm.restoreState(bad)).toThrow(StateError);
    expect(vm.run(TICK_LIMIT)).toEqual(twin.run(TICK_LIMIT));
    expect(vm.saveState()).toEqual(twin.saveState());
    expect(ramHash(vm)).toBe(ramHash(twin));
  });
});

describe('guest memory frame transfer', () => {
  it('lists RAM frames but not the ROM inside RAM; reads without side effects; writes without marking dirty', () => {
    const { vm } = boot(newHost(), 'frames', 'dirty/dirty-short.bin', { bytes: [] });
    const frames = vm.memory.transferableFrames();
    const romFrames = romOf('dirty/dirty-short.bin').length / FRAME_SIZE;
    expect(vm.memory.ramFrameCount).toBe(MEMORY_BYTES / FRAME_SIZE);
    expect(frames.length).toBe(vm.memory.ramFrameCount - romFrames);
    expect(vm.memory.isTransferableFrame(0x100 - 1)).toBe(false); // the ROM's last page, below 1 MiB
    expect(vm.memory.isTransferableFrame(0x100)).toBe(true);
    expect(vm.memory.isTransferableFrame(vm.memory.ramFrameCount)).toBe(false);

    vm.memory.harvestDirty();
    const page = new Uint8Array(FRAME_SIZE).map((_, i) => (i * 7 + 3) & 0xff);
    vm.memory.writeFrame(0x300, page);
    const back = new Uint8Array(FRAME_SIZE + 8);
    vm.memory.readFrame(0x300, back, 8);
    expect(back.subarray(8)).toEqual(page);
    expect(vm.memory.read32(0x300 * FRAME_SIZE + 4)).toBe(new DataView(page.buffer).getUint32(4, true));
    expect(Array.from(vm.memory.harvestDirty())).toEqual([]);

    // Writing content to a zero-mapped frame takes a host frame; an all-zero write maps the
    // zero frame again and gives it back.
    expect(vm.memory.mapsZeroFrame(0x301)).toBe(true);
    const inUse = vm.memory.pool.framesInUse;
    vm.memory.writeFrame(0x301, page);
    expect(vm.memory.mapsZeroFrame(0x301)).toBe(false);
    expect(vm.memory.pool.framesInUse).toBe(inUse + 1);
    vm.memory.writeFrame(0x301, new Uint8Array(FRAME_SIZE));
    expect(vm.memory.mapsZeroFrame(0x301)).toBe(true);
    expect(vm.memory.pool.framesInUse).toBe(inUse);
    expect(vm.memory.read32(0x301 * FRAME_SIZE + 4)).toBe(0);
    expect(Array.from(vm.memory.harvestDirty())).toEqual([]);
  });

  it('refuses ROM, MMIO and out-of-range frames and short buffers, naming the argument', () => {
    const { vm } = boot(newHost(), 'refuse', 'dirty/dirty-short.bin', { bytes: [] });
    const page = new Uint8Array(FRAME_SIZE);
    expect(() => vm.memory.readFrame(0xff, page)).toThrow(/readFrame guestFrame: 255 is not a transferable RAM frame/);
    expect(() => vm.memory.writeFrame(0xfee00, page)).toThrow(/writeFrame guestFrame/);
    expect(() => vm.memory.writeFrame(-1, page)).toThrow(/writeFrame guestFrame/);
    expect(() => vm.memory.readFrame(0x200, new Uint8Array(100))).toThrow(/readFrame dst: needs 4096 bytes at offset 0/);
    expect(() => vm.memory.writeFrame(0x200, page, 1)).toThrow(/writeFrame src: needs 4096 bytes at offset 1/);
  });
});

describe('VmClock and EventQueue persist', () => {
  /** A CPU stand-in holding the tick counters. */
  function fakeCpu(ticks: number): ClockedCpu {
    return { idleTicks: 0, get clockTicks() { return ticks + this.idleTicks; }, requestYield() {} };
  }

  it('a realtime clock restored on another host re-anchors to that host\'s wall clock', () => {
    let wallA = 1_000;
    const source = new VmClock(fakeCpu(5_000_000), 'realtime', 10, () => wallA);
    wallA += 3; // the source ran 3 ms since it anchored: not carried over
    const state = source.save();
    expect(state).toEqual({ version: 1, ticks: 5_000_000, nsPerTick: 10 });

    let wallB = 987_654;
    const cpuB = fakeCpu(5_000_000);
    const destination = new VmClock(cpuB, 'realtime', 10, () => wallB);
    destination.restore(structuredClone(state));
    destination.catchUpWithWallClock();
    expect(destination.ticks()).toBe(5_000_000);
    wallB += 2; // 2 ms of the new host's time = 200,000 ticks of 10 ns
    destination.catchUpWithWallClock();
    expect(destination.ticks()).toBe(5_200_000);
  });

  it('a deterministic clock restores the same ticks whatever the host time', () => {
    const clock = new VmClock(fakeCpu(42), 'deterministic', 10, () => 123);
    clock.restore(new VmClock(fakeCpu(42), 'deterministic', 10, () => 99_999).save());
    clock.catchUpWithWallClock();
    expect(clock.save()).toEqual({ version: 1, ticks: 42, nsPerTick: 10 });
  });

  it('the clock refuses another rate, another tick count or version, naming the field', () => {
    const clock = new VmClock(fakeCpu(42), 'deterministic', 10);
    expect(() => clock.restore({ version: 1, ticks: 42, nsPerTick: 5 })).toThrow(/clock0: .*'nsPerTick'/);
    expect(() => clock.restore({ version: 1, ticks: 43, nsPerTick: 10 })).toThrow(/clock0: .*'ticks'.*43 differs/);
    expect(() => clock.restore({ version: 2, ticks: 42, nsPerTick: 10 })).toThrow(/clock0: .*'version'/);
    expect(() => clock.restore({ version: 1, ticks: -1, nsPerTick: 10 })).toThrow(/clock0: .*'ticks'/);
  });

  it('the event queue saves the undelivered events in order and restores them', () => {
    const queue = new EventQueue();
    queue.push(10, InputKind.SerialByte, 0x61);
    queue.push(20, InputKind.SerialByte, 0x62);
    queue.push(20, InputKind.SerialByte, 0x63);
    expect(queue.peekDue(10)?.value).toBe(0x61);
    queue.shift();
    const state = queue.save();
    expect(state).toEqual({ version: 1, events: [{ at: 20, kind: 1, value: 0x62 }, { at: 20, kind: 1, value: 0x63 }] });
    const copy = new EventQueue();
    copy.push(5, InputKind.SerialByte, 0x7a);
    copy.restore(structuredClone(state));
    expect(copy.save()).toEqual(state);
    expect(copy.nextAt()).toBe(20);
    expect(copy.peekDue(19)).toBeNull();
    expect(copy.peekDue(20)?.value).toBe(0x62);
  });

  it('the event queue refuses bad events, naming the field, and keeps its events', () => {
    const queue = new EventQueue();
    queue.push(7, InputKind.SerialByte, 0x31);
    const before = queue.save();
    const bad: [unknown, RegExp][] = [
      [{ version: 1, events: 'x' }, /input0: .*'events'.*array/],
      [{ version: 1, events: [{ at: 9, kind: 1, value: 1 }, { at: 8, kind: 1, value: 2 }] }, /input0: .*'events\[1\]\.at'/],
      [{ version: 1, events: [{ at: 9, kind: 0, value: 1 }] }, /input0: .*'events\[0\]\.kind'/],
      [{ version: 1, events: [{ at: 9, kind: 1, value: 256 }] }, /input0: .*'events\[0\]\.value'/],
      [{ version: 1, events: [null] }, /input0: .*'events\[0\]\.'.*not an object/],
      [{ version: 3, events: [] }, /input0: .*'version'/],
    ];
    for (const [state, message] of bad) {
      expect(() => queue.restore(state)).toThrow(message);
      expect(queue.save()).toEqual(before);
    }
  });
});
