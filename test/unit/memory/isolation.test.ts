// NPT isolation: two VMs in one pool under a seeded random access pattern (including
// COW-shared frames, resets and bulk copies) never see each other's data, checked against a
// plain byte-array model of each VM, with pool reference counts checked at the end.
import { describe, expect, it } from 'vitest';
import { FRAME_SIZE, FramePool, GuestMemory, NPT_MMIO, NPT_PRESENT, type HostFrame } from '../../../src/memory/index.js';
import { makeRandom } from '../../helpers/random.js';


/** Index of the first differing byte of two arrays (or their shorter length when one is a prefix), -1 when equal. Cheaper than toEqual on large typed arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

const RAM_FRAMES = 48;
const RAM_BYTES = RAM_FRAMES * FRAME_SIZE;

interface Vm {
  readonly memory: GuestMemory;
  readonly model: Uint8Array;
}

function modelRead(model: Uint8Array, address: number, size: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) value |= model[address + i] << (8 * i);
  return value >>> 0;
}

function modelWrite(model: Uint8Array, address: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) model[address + i] = (value >>> (8 * i)) & 0xff;
}

function readSized(memory: GuestMemory, address: number, size: number): number {
  return size === 1 ? memory.read8(address) : size === 2 ? memory.read16(address) : memory.read32(address);
}

function writeSized(memory: GuestMemory, address: number, size: number, value: number): void {
  if (size === 1) memory.write8(address, value);
  else if (size === 2) memory.write16(address, value);
  else memory.write32(address, value);
}

/** Applies one random operation to `vm` (and maybe its peer) in both memory and model. */
function randomStep(random: (limit: number) => number, vm: Vm, peer: Vm): void {
  const op = random(100);
  const size = [1, 2, 4][random(3)];
  const address = random(RAM_BYTES - size + 1);
  if (op < 40) {
    const value = random(0x1_0000_0000);
    writeSized(vm.memory, address, size, value);
    modelWrite(vm.model, address, size, value);
  } else if (op < 80) {
    const got = readSized(vm.memory, address, size);
    const expected = modelRead(vm.model, address, size);
    if (got !== expected) throw new Error(`read${size * 8} at ${address.toString(16)}: ${got} != ${expected}`);
  } else if (op < 88) {
    const targetFrame = random(RAM_FRAMES);
    const sourceFrame = random(RAM_FRAMES);
    vm.memory.shareFrom(targetFrame, peer.memory, sourceFrame);
    vm.model.set(peer.model.subarray(sourceFrame * FRAME_SIZE, (sourceFrame + 1) * FRAME_SIZE), targetFrame * FRAME_SIZE);
  } else if (op < 92) {
    const frame = random(RAM_FRAMES);
    vm.memory.resetFrames([frame]);
    vm.model.fill(0, frame * FRAME_SIZE, (frame + 1) * FRAME_SIZE);
  } else {
    const length = 1 + random(2 * FRAME_SIZE);
    const start = random(RAM_BYTES - length + 1);
    const data = new Uint8Array(length);
    for (let i = 0; i < length; i++) data[i] = random(256);
    vm.memory.writeBytes(start, data);
    vm.model.set(data, start);
  }
}

/** Every host frame's refcount equals the number of NPT entries mapping it (+1 for the pool's zero frame). */
function checkRefCounts(pool: FramePool, memories: GuestMemory[]): void {
  const references = new Map<number, number>();
  for (const memory of memories) {
    const entries = memory.npt.entries;
    for (let frame = 0; frame < entries.length; frame++) {
      const entry = entries[frame];
      if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) continue;
      references.set(entry >>> 12, (references.get(entry >>> 12) ?? 0) + 1);
    }
  }
  for (const [hostFrame, count] of references) {
    const expected = hostFrame === pool.zeroFrame ? count + 1 : count;
    if (pool.refCount(hostFrame as HostFrame) !== expected) {
      throw new Error(`host frame ${hostFrame}: refCount ${pool.refCount(hostFrame as HostFrame)}, mapped ${expected} times`);
    }
  }
}

describe('NPT isolation', () => {
  it.each([1, 0xc0ffee, 123456789])('two VMs in one pool never see each other (seed %i)', (seed) => {
    const pool = new FramePool();
    const start = pool.framesInUse;
    const a: Vm = { memory: new GuestMemory(pool, RAM_BYTES), model: new Uint8Array(RAM_BYTES) };
    const b: Vm = { memory: new GuestMemory(pool, RAM_BYTES), model: new Uint8Array(RAM_BYTES) };
    const random = makeRandom(seed);
    for (let step = 0; step < 6000; step++) {
      if (random(2) === 0) randomStep(random, a, b);
      else randomStep(random, b, a);
    }
    for (const vm of [a, b]) {
      const whole = new Uint8Array(RAM_BYTES);
      vm.memory.readBytes(0, whole);
      expect(firstDifference(whole, vm.model)).toBe(-1);
    }
    checkRefCounts(pool, [a.memory, b.memory]);
    a.memory.dispose();
    b.memory.dispose();
    expect(pool.framesInUse).toBe(start);
  });
});
