// Tests for virtio-blk: every request type against a fake backend and fake queue,
// status bytes, range and read-only checks, configuration bytes, malformed chains, Persist.
import { describe, expect, it } from 'vitest';
import { StateError } from '../../../../src/persist/persist.js';
import {
  VirtioBlkConfig,
  VirtioBlkFeature,
  VirtioBlkRequestType,
  VirtioBlkStatus,
  VirtioBlock,
  VIRTIO_BLK_MAX_SEGMENTS,
} from '../../../../src/virtio/blk/virtio-blk.js';
import { featureBit, VirtioDeviceType, VirtioFeatureBit } from '../../../../src/virtio/virtio-device.js';
import { FakeBackend, FakeHost, FakeMemory, FakeQueue } from '../fakes.js';

const SECTOR = 512;

/** A request header: type, reserved, sector. */
function header(type: number, sector = 0): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(8, sector % 2 ** 32, true);
  view.setUint32(12, Math.floor(sector / 2 ** 32), true);
  return bytes;
}

/** Discard/write-zeroes segments. */
function segments(list: readonly { sector: number; sectors: number; flags?: number }[]): Uint8Array {
  const bytes = new Uint8Array(16 * list.length);
  const view = new DataView(bytes.buffer);
  list.forEach((s, i) => {
    view.setUint32(i * 16, s.sector % 2 ** 32, true);
    view.setUint32(i * 16 + 4, Math.floor(s.sector / 2 ** 32), true);
    view.setUint32(i * 16 + 8, s.sectors, true);
    view.setUint32(i * 16 + 12, s.flags ?? 0, true);
  });
  return bytes;
}

/** Deterministic pattern bytes. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return out;
}

/** Index of the first differing byte (or of the length mismatch), -1 when equal; fast for big arrays. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function makeBlk(options: { sectors?: number; readOnly?: boolean; serial?: string } = {}) {
  const backend = new FakeBackend((options.sectors ?? 64) * SECTOR, options.readOnly ?? false);
  const logs: string[] = [];
  const blk = new VirtioBlock({ name: 'vblk0', backend, serial: options.serial, log: (m) => logs.push(m) });
  const memory = new FakeMemory();
  const queue = new FakeQueue(memory, 0, 256);
  const host = new FakeHost();
  blk.activate(blk.deviceFeatures, [queue], host);
  return { blk, backend, queue, host, logs, memory };
}

/** The status byte (last writable byte) of a completed chain. */
function statusOf(written: Uint8Array): number {
  return written[written.length - 1]!;
}

describe('VirtioBlock identity and configuration', () => {
  it('offers the block features and ring features', () => {
    const { blk } = makeBlk();
    expect(blk.deviceType).toBe(VirtioDeviceType.Block);
    expect(blk.queueCount).toBe(1);
    expect(blk.queueMaxSize(0)).toBe(256);
    for (const bit of [
      VirtioBlkFeature.SegMax,
      VirtioBlkFeature.BlkSize,
      VirtioBlkFeature.Flush,
      VirtioBlkFeature.Discard,
      VirtioBlkFeature.WriteZeroes,
      VirtioFeatureBit.IndirectDescriptors,
      VirtioFeatureBit.EventIndex,
      VirtioFeatureBit.Version1,
    ]) {
      expect(blk.deviceFeatures & featureBit(bit)).toBe(featureBit(bit));
    }
    expect(blk.deviceFeatures & featureBit(VirtioBlkFeature.ReadOnly)).toBe(0n);
    expect(makeBlk({ readOnly: true }).blk.deviceFeatures & featureBit(VirtioBlkFeature.ReadOnly)).toBe(featureBit(VirtioBlkFeature.ReadOnly));
  });

  it('lays the configuration out as struct virtio_blk_config', () => {
    const { blk } = makeBlk({ sectors: 2048 });
    expect(blk.configSize).toBe(60);
    expect(blk.configRead(VirtioBlkConfig.Capacity, 4)).toBe(2048);
    expect(blk.configRead(VirtioBlkConfig.Capacity + 4, 4)).toBe(0);
    expect(blk.configRead(VirtioBlkConfig.SegMax, 4)).toBe(254);
    expect(blk.configRead(VirtioBlkConfig.BlkSize, 4)).toBe(512);
    expect(blk.configRead(VirtioBlkConfig.NumQueues, 2)).toBe(1);
    expect(blk.configRead(VirtioBlkConfig.MaxDiscardSectors, 4)).toBeGreaterThan(0);
    expect(blk.configRead(VirtioBlkConfig.MaxDiscardSeg, 4)).toBe(VIRTIO_BLK_MAX_SEGMENTS);
    expect(blk.configRead(VirtioBlkConfig.MaxWriteZeroesSectors, 4)).toBeGreaterThan(0);
    expect(blk.configRead(VirtioBlkConfig.MaxWriteZeroesSeg, 4)).toBe(VIRTIO_BLK_MAX_SEGMENTS);
    expect(blk.configRead(VirtioBlkConfig.WriteZeroesMayUnmap, 1)).toBe(1);
    // Byte reads agree with the wider little-endian reads.
    expect(blk.configRead(VirtioBlkConfig.Capacity + 1, 1)).toBe(2048 >> 8);
    expect(blk.configRead(VirtioBlkConfig.BlkSize, 2)).toBe(512);
  });

  it('reports capacities above 4 GiB sectors in the high word', () => {
    const sizeBytes = 2 ** 33 * SECTOR + 3 * SECTOR;
    const backend = { name: 'big', sizeBytes, readOnly: false } as unknown as FakeBackend;
    const blk = new VirtioBlock({ backend });
    expect(blk.configRead(VirtioBlkConfig.Capacity, 4)).toBe(3);
    expect(blk.configRead(VirtioBlkConfig.Capacity + 4, 4)).toBe(2);
  });

  it('ignores configuration writes', () => {
    const { blk, logs } = makeBlk();
    blk.configWrite(VirtioBlkConfig.Capacity, 4, 7);
    expect(blk.configRead(VirtioBlkConfig.Capacity, 4)).toBe(64);
    expect(logs.length).toBe(1);
  });

  it('refuses a serial longer than 20 bytes', () => {
    expect(() => new VirtioBlock({ backend: new FakeBackend(SECTOR), serial: 'x'.repeat(21) })).toThrow(/serial/);
  });
});

describe('VirtioBlock requests', () => {
  it('IN reads the right sectors across several writable buffers', () => {
    const { blk, backend, queue } = makeBlk();
    const disk = pattern(64 * SECTOR, 1);
    backend.data.set(disk);
    const chain = queue.add([header(VirtioBlkRequestType.In, 5)], [300, 724, 1024, 1]);
    blk.queueNotify(0);
    expect(queue.used).toEqual([{ chain, written: 2049 }]);
    const written = chain.written();
    expect(statusOf(written)).toBe(VirtioBlkStatus.Ok);
    expect(written.subarray(0, 2048)).toEqual(disk.subarray(5 * SECTOR, 9 * SECTOR));
    expect(queue.notifications).toBe(1);
  });

  it('OUT writes the data split across readable buffers to the right sectors', () => {
    const { blk, backend, queue } = makeBlk();
    const data = pattern(3 * SECTOR, 2);
    const hdr = header(VirtioBlkRequestType.Out, 10);
    // Header and data split at odd places, including a buffer shared by both.
    const joined = new Uint8Array(16 + data.length);
    joined.set(hdr);
    joined.set(data, 16);
    const chain = queue.add([joined.subarray(0, 10), joined.subarray(10, 100), joined.subarray(100)], [1]);
    blk.queueNotify(0);
    expect(queue.used).toEqual([{ chain, written: 1 }]);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.Ok);
    expect(backend.data.subarray(10 * SECTOR, 13 * SECTOR)).toEqual(data);
    expect(backend.data.subarray(9 * SECTOR, 10 * SECTOR).every((b) => b === 0)).toBe(true);
    expect(backend.data.subarray(13 * SECTOR, 14 * SECTOR).every((b) => b === 0)).toBe(true);
  });

  it('moves requests larger than the internal chunk size intact', () => {
    const { blk, backend, queue } = makeBlk({ sectors: 1024 });
    const data = pattern(300 * SECTOR, 3);
    queue.add([header(VirtioBlkRequestType.Out, 7), data], [1]);
    const read = queue.add([header(VirtioBlkRequestType.In, 7)], [100 * SECTOR, 200 * SECTOR, 1]);
    blk.queueNotify(0);
    expect(firstDifference(backend.data.subarray(7 * SECTOR, 307 * SECTOR), data)).toBe(-1);
    expect(firstDifference(read.written().subarray(0, 300 * SECTOR), data)).toBe(-1);
    expect(queue.notifications).toBe(1);
    expect(queue.used.length).toBe(2);
  });

  it('FLUSH flushes the backend', () => {
    const { blk, backend, queue } = makeBlk();
    const chain = queue.add([header(VirtioBlkRequestType.Flush)], [1]);
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.Ok);
    expect(backend.calls).toEqual([{ op: 'flush' }]);
  });

  it('GET_ID returns the serial zero-padded to 20 bytes', () => {
    const { blk, queue } = makeBlk({ serial: 'disk-serial-1' });
    const chain = queue.add([header(VirtioBlkRequestType.GetId)], [8, 12, 1]);
    chain.write(0, new Uint8Array(20).fill(0xee));
    blk.queueNotify(0);
    const written = chain.written();
    expect(statusOf(written)).toBe(VirtioBlkStatus.Ok);
    expect(new TextDecoder().decode(written.subarray(0, 13))).toBe('disk-serial-1');
    expect(written.subarray(13, 20).every((b) => b === 0)).toBe(true);
    expect(queue.used[0]!.written).toBe(21);
  });

  it('GET_ID with a 20-byte serial has no terminator', () => {
    const serial = 'ABCDEFGHIJKLMNOPQRST';
    const { blk, queue } = makeBlk({ serial });
    const chain = queue.add([header(VirtioBlkRequestType.GetId)], [20, 1]);
    blk.queueNotify(0);
    expect(new TextDecoder().decode(chain.written().subarray(0, 20))).toBe(serial);
  });

  it('DISCARD passes each segment to the backend', () => {
    const { blk, backend, queue } = makeBlk();
    const chain = queue.add(
      [header(VirtioBlkRequestType.Discard), segments([{ sector: 8, sectors: 8 }, { sector: 32, sectors: 16 }])],
      [1],
    );
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.Ok);
    expect(backend.calls).toEqual([
      { op: 'discard', offset: 8 * SECTOR, length: 8 * SECTOR },
      { op: 'discard', offset: 32 * SECTOR, length: 16 * SECTOR },
    ]);
  });

  it('DISCARD with the unmap flag or reserved flags is UNSUPP and touches nothing', () => {
    const { blk, backend, queue } = makeBlk();
    const unmap = queue.add([header(VirtioBlkRequestType.Discard), segments([{ sector: 0, sectors: 1, flags: 1 }])], [1]);
    const reserved = queue.add([header(VirtioBlkRequestType.Discard), segments([{ sector: 0, sectors: 1 }, { sector: 4, sectors: 1, flags: 4 }])], [1]);
    blk.queueNotify(0);
    expect(statusOf(unmap.written())).toBe(VirtioBlkStatus.Unsupported);
    expect(statusOf(reserved.written())).toBe(VirtioBlkStatus.Unsupported);
    expect(backend.calls).toEqual([]);
  });

  it('WRITE_ZEROES zeroes each segment and passes the unmap flag', () => {
    const { blk, backend, queue } = makeBlk();
    backend.data.fill(0xaa);
    const chain = queue.add(
      [header(VirtioBlkRequestType.WriteZeroes), segments([{ sector: 2, sectors: 2, flags: 1 }, { sector: 20, sectors: 1 }])],
      [1],
    );
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.Ok);
    expect(backend.calls).toEqual([
      { op: 'writeZeroes', offset: 2 * SECTOR, length: 2 * SECTOR, mayUnmap: true },
      { op: 'writeZeroes', offset: 20 * SECTOR, length: SECTOR, mayUnmap: false },
    ]);
    expect(backend.data.subarray(2 * SECTOR, 4 * SECTOR).every((b) => b === 0)).toBe(true);
    expect(backend.data[4 * SECTOR]).toBe(0xaa);
    expect(backend.data[SECTOR * 2 - 1]).toBe(0xaa);
  });

  it('segment requests with no segment, a partial segment or too many are IOERR', () => {
    const { blk, backend, queue } = makeBlk();
    const none = queue.add([header(VirtioBlkRequestType.WriteZeroes)], [1]);
    const partial = queue.add([header(VirtioBlkRequestType.Discard), new Uint8Array(20)], [1]);
    const many = queue.add(
      [header(VirtioBlkRequestType.Discard), segments(Array.from({ length: VIRTIO_BLK_MAX_SEGMENTS + 1 }, () => ({ sector: 0, sectors: 1 })))],
      [1],
    );
    blk.queueNotify(0);
    expect([none, partial, many].map((c) => statusOf(c.written()))).toEqual([
      VirtioBlkStatus.IoError,
      VirtioBlkStatus.IoError,
      VirtioBlkStatus.IoError,
    ]);
    expect(backend.calls).toEqual([]);
  });

  it('a segment past the end fails the whole request before any segment is done', () => {
    const { blk, backend, queue, logs } = makeBlk();
    const chain = queue.add(
      [header(VirtioBlkRequestType.WriteZeroes), segments([{ sector: 0, sectors: 1 }, { sector: 63, sectors: 2 }])],
      [1],
    );
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.IoError);
    expect(backend.calls).toEqual([]);
    expect(logs.some((l) => l.includes('passes the end'))).toBe(true);
  });

  it('out-of-range reads and writes are IOERR and logged; the last sector is in range', () => {
    const { blk, backend, queue, logs } = makeBlk();
    backend.data.fill(0x5a);
    const lastOk = queue.add([header(VirtioBlkRequestType.In, 63)], [SECTOR, 1]);
    const readPast = queue.add([header(VirtioBlkRequestType.In, 63)], [2 * SECTOR, 1]);
    const writePast = queue.add([header(VirtioBlkRequestType.Out, 64), new Uint8Array(SECTOR)], [1]);
    const huge = queue.add([header(VirtioBlkRequestType.In, 2 ** 40)], [SECTOR, 1]);
    blk.queueNotify(0);
    expect(statusOf(lastOk.written())).toBe(VirtioBlkStatus.Ok);
    expect(lastOk.written()[0]).toBe(0x5a);
    expect(statusOf(readPast.written())).toBe(VirtioBlkStatus.IoError);
    // A failed read leaves zeros, not stale data, and the used length still covers the status.
    expect(readPast.written().subarray(0, 2 * SECTOR).every((b) => b === 0)).toBe(true);
    expect(queue.used[1]!.written).toBe(2 * SECTOR + 1);
    expect(statusOf(writePast.written())).toBe(VirtioBlkStatus.IoError);
    expect(statusOf(huge.written())).toBe(VirtioBlkStatus.IoError);
    expect(logs.filter((l) => l.includes('passes the end')).length).toBe(3);
    expect(backend.calls.filter((c) => c.op === 'write')).toEqual([]);
  });

  it('data that is not whole sectors is IOERR', () => {
    const { blk, queue } = makeBlk();
    const chain = queue.add([header(VirtioBlkRequestType.Out, 0), new Uint8Array(100)], [1]);
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.IoError);
  });

  it('an unknown request type is UNSUPP', () => {
    const { blk, queue, logs } = makeBlk();
    const unknown = queue.add([header(99)], [1]);
    const lifetime = queue.add([header(VirtioBlkRequestType.GetLifetime)], [16, 1]);
    blk.queueNotify(0);
    expect(statusOf(unknown.written())).toBe(VirtioBlkStatus.Unsupported);
    expect(statusOf(lifetime.written())).toBe(VirtioBlkStatus.Unsupported);
    expect(logs.some((l) => l.includes('99'))).toBe(true);
  });

  it('a read-only backend refuses OUT, DISCARD and WRITE_ZEROES with IOERR but serves IN and FLUSH', () => {
    const { blk, backend, queue } = makeBlk({ readOnly: true });
    const write = queue.add([header(VirtioBlkRequestType.Out, 0), new Uint8Array(SECTOR).fill(1)], [1]);
    const discard = queue.add([header(VirtioBlkRequestType.Discard), segments([{ sector: 0, sectors: 1 }])], [1]);
    const zeroes = queue.add([header(VirtioBlkRequestType.WriteZeroes), segments([{ sector: 0, sectors: 1 }])], [1]);
    const read = queue.add([header(VirtioBlkRequestType.In, 0)], [SECTOR, 1]);
    const flush = queue.add([header(VirtioBlkRequestType.Flush)], [1]);
    blk.queueNotify(0);
    expect([write, discard, zeroes, read, flush].map((c) => statusOf(c.written()))).toEqual([
      VirtioBlkStatus.IoError,
      VirtioBlkStatus.IoError,
      VirtioBlkStatus.IoError,
      VirtioBlkStatus.Ok,
      VirtioBlkStatus.Ok,
    ]);
    expect(backend.calls.map((c) => c.op)).toEqual(['read', 'flush']);
  });

  it('a backend error becomes IOERR with a log line', () => {
    const { blk, backend, queue, logs } = makeBlk();
    backend.failWith = 'cluster table corrupt';
    const chain = queue.add([header(VirtioBlkRequestType.In, 0)], [SECTOR, 1]);
    blk.queueNotify(0);
    expect(statusOf(chain.written())).toBe(VirtioBlkStatus.IoError);
    expect(logs.some((l) => l.includes('cluster table corrupt'))).toBe(true);
  });

  it('completes a batch in order and notifies once', () => {
    const { blk, queue } = makeBlk();
    const chains = [0, 1, 2, 3].map((i) => queue.add([header(VirtioBlkRequestType.In, i)], [SECTOR, 1]));
    blk.queueNotify(0);
    expect(queue.used.map((u) => u.chain)).toEqual(chains);
    expect(queue.notifications).toBe(1);
    blk.queueNotify(0);
    expect(queue.notifications).toBe(1);
  });
});

describe('VirtioBlock malformed requests and broken rings', () => {
  it('a header shorter than 16 bytes fails the device and stops processing', () => {
    const { blk, queue, host } = makeBlk();
    queue.add([new Uint8Array(8)], [1]);
    const after = queue.add([header(VirtioBlkRequestType.Flush)], [1]);
    blk.queueNotify(0);
    expect(host.failures.length).toBe(1);
    expect(host.failures[0]).toMatch(/header/);
    expect(queue.used).toEqual([]);
    blk.queueNotify(0);
    expect(queue.used.some((u) => u.chain === after)).toBe(false);
  });

  it('requests completed before a malformed one are still pushed and notified', () => {
    const { blk, queue, host } = makeBlk();
    const good = queue.add([header(VirtioBlkRequestType.Flush)], [1]);
    queue.add([new Uint8Array(3)], [1]);
    blk.queueNotify(0);
    expect(queue.used.map((u) => u.chain)).toEqual([good]);
    expect(queue.notifications).toBe(1);
    expect(host.failures.length).toBe(1);
  });

  it('a chain without a status byte fails the device', () => {
    const { blk, queue, host } = makeBlk();
    queue.add([header(VirtioBlkRequestType.Flush)], []);
    blk.queueNotify(0);
    expect(host.failures[0]).toMatch(/status/);
  });

  it('a corrupt ring fails the device without throwing', () => {
    const { blk, queue, host } = makeBlk();
    queue.corruptWith = 'descriptor 3 loops';
    expect(() => blk.queueNotify(0)).not.toThrow();
    expect(host.failures[0]).toMatch(/descriptor 3 loops/);
  });

  it('reset clears the broken state; nothing is processed until activated again', () => {
    const { blk, queue, host } = makeBlk();
    queue.add([new Uint8Array(4)], [1]);
    blk.queueNotify(0);
    blk.reset();
    const chain = queue.add([header(VirtioBlkRequestType.Flush)], [1]);
    blk.queueNotify(0);
    expect(queue.used).toEqual([]);
    blk.activate(blk.deviceFeatures, [queue], host);
    blk.queueNotify(0);
    expect(queue.used.map((u) => u.chain)).toEqual([chain]);
  });
});

describe('VirtioBlock Persist', () => {
  it('round-trips the activation state', () => {
    const { blk } = makeBlk();
    const saved = blk.save();
    expect(saved).toEqual({ version: 1, activated: true, features: Number(blk.deviceFeatures) });
    const other = new VirtioBlock({ name: 'vblk0', backend: new FakeBackend(64 * SECTOR) });
    expect(other.save().activated).toBe(false);
    other.restore(JSON.parse(JSON.stringify(saved)));
    expect(other.save()).toEqual(saved);
  });

  it('rejects corrupted state naming the field', () => {
    const { blk } = makeBlk();
    const good = blk.save();
    expect(() => blk.restore({ ...good, version: 9 })).toThrow(StateError);
    expect(() => blk.restore({ ...good, activated: 'yes' })).toThrow(/activated/);
    expect(() => blk.restore({ ...good, features: -1 })).toThrow(/features/);
    expect(() => blk.restore({ ...good, features: 2 ** 40 })).toThrow(/does not offer/);
    expect(() => blk.restore(null)).toThrow(StateError);
    expect(blk.save()).toEqual(good);
  });
});
