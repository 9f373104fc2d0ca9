// Split virtqueue (device side) against a mock driver: chains, indirect tables, used ring,
// interrupt suppression, 16-bit index wrap-around, and corrupt rings.
import { describe, expect, it } from 'vitest';
import { SplitVirtqueue, legacyRingAddresses, type VirtqueueCounters } from '../../../src/virtio/virtqueue.js';
import { VirtqueueError } from '../../../src/virtio/virtio-device.js';
import { MockDriver, RAM_BYTES, makeMemory } from './virtqueue-driver.js';

interface Rig {
  driver: MockDriver;
  queue: SplitVirtqueue;
  interrupts: { count: number };
}

function makeQueue(options: { size?: number; eventIndex?: boolean; indirect?: boolean; counters?: VirtqueueCounters; dma?: () => boolean } = {}): Rig {
  const memory = makeMemory();
  const size = options.size ?? 8;
  const driver = new MockDriver(memory, size);
  const interrupts = { count: 0 };
  const queue = new SplitVirtqueue({
    memory,
    index: 1,
    size,
    desc: driver.desc,
    driver: driver.driver,
    device: driver.device,
    eventIndex: options.eventIndex ?? false,
    indirect: options.indirect ?? true,
    interrupt: () => interrupts.count++,
    deviceName: 'test-dev',
    counters: options.counters,
    dmaAllowed: options.dma,
  });
  return { driver, queue, interrupts };
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** The VirtqueueError message of `action`, failing the test when it does not throw one. */
function virtqueueErrorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(VirtqueueError);
    return (error as Error).message;
  }
  throw new Error('expected a VirtqueueError');
}

describe('SplitVirtqueue: chains', () => {
  it('returns null on an empty ring', () => {
    const { queue } = makeQueue();
    expect(queue.pop()).toBeNull();
    expect(queue.inFlight).toBe(0);
  });

  it('pops a single readable buffer and reads its bytes', () => {
    const { driver, queue } = makeQueue();
    driver.fill(0x40000, bytes(1, 2, 3, 4, 5));
    driver.makeAvailable(driver.addChain([{ address: 0x40000, length: 5 }]));
    const chain = queue.pop()!;
    expect(chain.head).toBe(0);
    expect(chain.readableLength).toBe(5);
    expect(chain.writableLength).toBe(0);
    const dst = new Uint8Array(3);
    chain.read(2, dst);
    expect([...dst]).toEqual([3, 4, 5]);
    expect(queue.inFlight).toBe(1);
    expect(queue.pop()).toBeNull();
  });

  it('walks a chained request across readable and writable buffers', () => {
    const { driver, queue } = makeQueue();
    driver.fill(0x40000, bytes(10, 11));
    driver.fill(0x41000, bytes(12, 13, 14));
    const head = driver.addChain([
      { address: 0x40000, length: 2 },
      { address: 0x41000, length: 3 },
      { address: 0x42000, length: 4, write: true },
      { address: 0x43000, length: 2, write: true },
    ]);
    driver.makeAvailable(head);
    const chain = queue.pop()!;
    expect(chain.readable.map((b) => [b.address, b.length])).toEqual([[0x40000, 2], [0x41000, 3]]);
    expect(chain.writable.map((b) => [b.address, b.length])).toEqual([[0x42000, 4], [0x43000, 2]]);
    const all = new Uint8Array(5);
    chain.read(0, all);
    expect([...all]).toEqual([10, 11, 12, 13, 14]);
    chain.write(2, bytes(0xa1, 0xa2, 0xa3, 0xa4));
    expect([...driver.bytesAt(0x42000, 4)]).toEqual([0, 0, 0xa1, 0xa2]);
    expect([...driver.bytesAt(0x43000, 2)]).toEqual([0xa3, 0xa4]);
  });

  it('marks written guest pages dirty (DMA goes through GuestMemory)', () => {
    const { driver, queue } = makeQueue();
    driver.makeAvailable(driver.addChain([{ address: 0x50000, length: 16, write: true }]));
    const chain = queue.pop()!;
    driver.memory.harvestDirty();
    const frame = 0x50000 >>> 12;
    expect(driver.memory.dirty.isDirty(frame)).toBe(false);
    chain.write(0, bytes(1));
    expect(driver.bytesAt(0x50000, 1)[0]).toBe(1);
    expect(driver.memory.dirty.isDirty(frame)).toBe(true);
  });

  it('rejects reads and writes past the end of the chain', () => {
    const { driver, queue } = makeQueue();
    driver.makeAvailable(driver.addChain([{ address: 0x40000, length: 4 }, { address: 0x41000, length: 4, write: true }]));
    const chain = queue.pop()!;
    expect(virtqueueErrorOf(() => chain.read(2, new Uint8Array(3)))).toMatch(/test-dev queue 1: chain at descriptor 0: read of 3 bytes at offset 2 exceeds its 4 readable/);
    expect(virtqueueErrorOf(() => chain.write(0, new Uint8Array(5)))).toMatch(/write of 5 bytes .* 4 writable/);
  });

  it('follows an indirect table', () => {
    const { driver, queue } = makeQueue();
    driver.fill(0x40000, bytes(7, 8, 9));
    const head = driver.addIndirect(0x60000, [
      { address: 0x40000, length: 3 },
      { address: 0x42000, length: 8, write: true },
    ]);
    driver.makeAvailable(head);
    const chain = queue.pop()!;
    expect(chain.head).toBe(head);
    expect(chain.readableLength).toBe(3);
    expect(chain.writableLength).toBe(8);
    const dst = new Uint8Array(3);
    chain.read(0, dst);
    expect([...dst]).toEqual([7, 8, 9]);
  });

  it('follows direct descriptors followed by an indirect table', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(0x60000, 0, 0x42000, 6, 2, 0);
    driver.writeDescriptor(driver.desc, 0, 0x40000, 2, 1, 1);
    driver.writeDescriptor(driver.desc, 1, 0x60000, 16, 4, 0);
    driver.makeAvailable(0);
    const chain = queue.pop()!;
    expect(chain.readableLength).toBe(2);
    expect(chain.writableLength).toBe(6);
  });

  it('pushes used elements and publishes used.idx', () => {
    const { driver, queue } = makeQueue();
    const a = driver.addChain([{ address: 0x42000, length: 8, write: true }]);
    const b = driver.addChain([{ address: 0x43000, length: 8, write: true }]);
    driver.makeAvailable(a);
    driver.makeAvailable(b);
    const first = queue.pop()!;
    const second = queue.pop()!;
    expect(queue.inFlight).toBe(2);
    queue.push(second, 5);
    queue.push(first, 8);
    expect(queue.inFlight).toBe(0);
    expect(driver.takeUsed()).toEqual([[b, 5], [a, 8]]);
    expect(queue.counters()).toMatchObject({ lastAvailIndex: 2, usedIndex: 2 });
  });

  it('refuses to push a chain twice or with more bytes than it can hold (device bugs)', () => {
    const { driver, queue } = makeQueue();
    driver.makeAvailable(driver.addChain([{ address: 0x42000, length: 8, write: true }]));
    const chain = queue.pop()!;
    expect(() => queue.push(chain, 9)).toThrow(/9 bytes written, it has 8 writable/);
    queue.push(chain, 8);
    expect(() => queue.push(chain, 0)).toThrow(/not in flight/);
  });

  it('wraps the 16-bit available and used indices', () => {
    const size = 4;
    const { driver, queue } = makeQueue({ size, counters: { lastAvailIndex: 0xfffe, usedIndex: 0xfffe, signalledUsedIndex: 0xfffe } });
    driver.availIdx = 0xfffe;
    driver.lastSeenUsed = 0xfffe;
    driver.memory.write16(driver.device + 2, 0xfffe);
    const heads: number[] = [];
    for (let i = 0; i < 4; i++) {
      const head = driver.addChain([{ address: 0x42000 + i * 0x100, length: 4, write: true }]);
      heads.push(head);
      driver.makeAvailable(head);
    }
    expect(driver.availIdx).toBe(2);
    const popped = [queue.pop()!, queue.pop()!, queue.pop()!, queue.pop()!];
    expect(popped.map((c) => c.head)).toEqual(heads);
    expect(queue.pop()).toBeNull();
    for (const chain of popped) queue.push(chain, 1);
    expect(driver.usedIdx()).toBe(2);
    expect(driver.takeUsed().map(([h]) => h)).toEqual(heads);
  });

  it('returns null while DMA is not allowed and resumes afterwards', () => {
    let allowed = false;
    const { driver, queue } = makeQueue({ dma: () => allowed });
    driver.makeAvailable(driver.addChain([{ address: 0x40000, length: 4 }]));
    expect(queue.pop()).toBeNull();
    allowed = true;
    expect(queue.pop()).not.toBeNull();
  });

  it('computes the legacy layout with a 4096-aligned used ring', () => {
    expect(legacyRingAddresses(0x12, 256)).toEqual({ desc: 0x12000, driver: 0x12000 + 4096, device: 0x12000 + 8192 });
    expect(legacyRingAddresses(1, 8)).toEqual({ desc: 0x1000, driver: 0x1080, device: 0x2000 });
  });
});

describe('SplitVirtqueue: interrupt suppression', () => {
  function oneRequest(rig: Rig): void {
    const { driver, queue } = rig;
    driver.makeAvailable(driver.addChain([{ address: 0x42000, length: 4, write: true }]));
    queue.push(queue.pop()!, 4);
    queue.notify();
  }

  it('interrupts after new used entries and not again without new ones', () => {
    const rig = makeQueue();
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(1);
    rig.queue.notify();
    expect(rig.interrupts.count).toBe(1);
  });

  it('honours VIRTQ_AVAIL_F_NO_INTERRUPT', () => {
    const rig = makeQueue();
    rig.driver.setAvailFlags(1);
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(0);
    rig.driver.setAvailFlags(0);
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(1);
  });

  it('with EVENT_IDX interrupts only when used.idx passes used_event, ignoring NO_INTERRUPT', () => {
    const rig = makeQueue({ eventIndex: true });
    rig.driver.setAvailFlags(1);
    rig.driver.setUsedEvent(2); // interrupt when entry 2 (the third) is used
    oneRequest(rig);
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(0);
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(1);
    oneRequest(rig); // used_event (2) is now behind
    expect(rig.interrupts.count).toBe(1);
  });

  it('with EVENT_IDX interrupts when a batch crosses used_event', () => {
    const rig = makeQueue({ eventIndex: true });
    rig.driver.setUsedEvent(1);
    const { driver, queue } = rig;
    for (let i = 0; i < 3; i++) driver.makeAvailable(driver.addChain([{ address: 0x42000, length: 4, write: true }]));
    for (let i = 0; i < 3; i++) queue.push(queue.pop()!, 0);
    queue.notify();
    expect(rig.interrupts.count).toBe(1);
  });

  it('with EVENT_IDX handles used_event across the 16-bit wrap', () => {
    const rig = makeQueue({ eventIndex: true, counters: { lastAvailIndex: 0xffff, usedIndex: 0xffff, signalledUsedIndex: 0xffff } });
    rig.driver.availIdx = 0xffff;
    rig.driver.setUsedEvent(0x0000); // the entry numbered 0 after the wrap
    oneRequest(rig); // used.idx 0xffff → 0: entry 0xffff used, event 0 not passed
    expect(rig.interrupts.count).toBe(0);
    oneRequest(rig);
    expect(rig.interrupts.count).toBe(1);
  });

  it('publishes avail_event after every pop with EVENT_IDX', () => {
    const rig = makeQueue({ eventIndex: true });
    const { driver, queue } = rig;
    driver.makeAvailable(driver.addChain([{ address: 0x42000, length: 4 }]));
    driver.makeAvailable(driver.addChain([{ address: 0x42000, length: 4 }]));
    queue.pop();
    expect(driver.availEvent()).toBe(1);
    queue.pop();
    expect(driver.availEvent()).toBe(2);
  });

  it('leaves avail_event alone without EVENT_IDX', () => {
    const rig = makeQueue();
    rig.driver.memory.write16(rig.driver.device + 4 + 8 * 8, 0x1234);
    rig.driver.makeAvailable(rig.driver.addChain([{ address: 0x42000, length: 4 }]));
    rig.queue.pop();
    expect(rig.driver.availEvent()).toBe(0x1234);
  });
});

describe('SplitVirtqueue: corrupt rings', () => {
  it('rejects an available index that jumps past the queue size', () => {
    const { driver, queue } = makeQueue();
    driver.setAvailIdx(9);
    expect(virtqueueErrorOf(() => queue.pop())).toBe('test-dev queue 1: available index jumped from 0 to 9, more than the queue size 8');
  });

  it('rejects a head index out of range', () => {
    const { driver, queue } = makeQueue();
    driver.makeAvailable(8);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/descriptor 8: head index out of range/);
  });

  it('rejects a next index out of range', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, 0x40000, 4, 1, 200);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/descriptor 0: next index 200 out of range/);
  });

  it('detects a descriptor loop without hanging', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, 0x40000, 4, 1, 1);
    driver.writeDescriptor(driver.desc, 1, 0x40000, 4, 1, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/chain loops or is longer than its table of 8 descriptors/);
  });

  it('detects a loop inside an indirect table without hanging', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(0x60000, 0, 0x40000, 4, 1, 1);
    driver.writeDescriptor(0x60000, 1, 0x40000, 4, 1, 0);
    driver.writeDescriptor(driver.desc, 0, 0x60000, 32, 4, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/indirect descriptor \d: chain loops or is longer than its table of 2/);
  });

  it('bounds the walk of a huge indirect table by the 16-bit next field', () => {
    const { driver, queue } = makeQueue();
    // A 512 KiB "table" of zeroed descriptors plus a self-loop at entry 0: without a bound the
    // walk would take 32768 steps per entry; it must stop at the first repeat of the limit.
    driver.writeDescriptor(0x80000, 0, 0x40000, 4, 1, 0);
    driver.writeDescriptor(driver.desc, 0, 0x80000, 0x80000 - 0x10, 4, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/chain loops/);
  });

  it('rejects a buffer outside guest RAM (past the end, and above 4 GiB)', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, RAM_BYTES - 2, 4, 0, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/descriptor 0: buffer 0xffffe \(\+4\) is outside guest RAM/);
    const second = makeQueue();
    second.driver.writeDescriptor(second.driver.desc, 0, 0x1000, 4, 0, 0, 1);
    second.driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => second.queue.pop())).toMatch(/buffer 0x100001000 \(\+4\) is outside guest RAM/);
  });

  it('rejects a zero-length indirect table', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, 0x60000, 0, 4, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/descriptor 0: zero-length indirect table/);
  });

  it('rejects an indirect table whose length is not a multiple of 16', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, 0x60000, 24, 4, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/indirect table length 24 is not a multiple of 16/);
  });

  it('rejects a nested indirect table', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(0x60000, 0, 0x61000, 16, 4, 0);
    driver.writeDescriptor(driver.desc, 0, 0x60000, 16, 4, 0);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/indirect descriptor 0: nested indirect table/);
  });

  it('rejects an indirect descriptor when the feature was not negotiated', () => {
    const { driver, queue } = makeQueue({ indirect: false });
    driver.makeAvailable(driver.addIndirect(0x60000, [{ address: 0x40000, length: 4 }]));
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/VIRTIO_F_INDIRECT_DESC was not negotiated/);
  });

  it('rejects an indirect descriptor with NEXT set', () => {
    const { driver, queue } = makeQueue();
    driver.writeDescriptor(driver.desc, 0, 0x60000, 16, 4 | 1, 1);
    driver.makeAvailable(0);
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/indirect descriptor with NEXT set/);
  });

  it('rejects a readable buffer after a writable one', () => {
    const { driver, queue } = makeQueue();
    driver.makeAvailable(driver.addChain([{ address: 0x40000, length: 4, write: true }, { address: 0x41000, length: 4 }]));
    expect(virtqueueErrorOf(() => queue.pop())).toMatch(/descriptor 1: readable buffer after a writable one/);
  });

  it('rejects rings placed outside RAM or misaligned at construction', () => {
    const memory = makeMemory();
    const base = { memory, index: 0, size: 8, eventIndex: false, indirect: false, interrupt: () => {}, deviceName: 'd' };
    expect(virtqueueErrorOf(() => new SplitVirtqueue({ ...base, desc: RAM_BYTES - 64, driver: 0x1000, device: 0x2000 }))).toMatch(/d queue 0: descriptor table .* outside guest RAM/);
    expect(virtqueueErrorOf(() => new SplitVirtqueue({ ...base, desc: 0x1008, driver: 0x2000, device: 0x3000 }))).toMatch(/descriptor table at 0x1008 is not 16-byte aligned/);
    expect(virtqueueErrorOf(() => new SplitVirtqueue({ ...base, desc: 0x1000, driver: 0x2000, device: 0x3002 }))).toMatch(/used ring at 0x3002 is not 4-byte aligned/);
    expect(virtqueueErrorOf(() => new SplitVirtqueue({ ...base, size: 6, desc: 0x1000, driver: 0x2000, device: 0x3000 }))).toMatch(/queue size 6 is not a power of two/);
  });
});
