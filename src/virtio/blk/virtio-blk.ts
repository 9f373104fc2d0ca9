/**
 * virtio-blk: a virtual disk over one request queue (VIRTIO 1.2 §5.2 "Block Device").
 *
 * A request is one descriptor chain: a 16-byte device-readable header (type, reserved,
 * sector), then the data (device-readable for writes and discard/write-zeroes segments,
 * device-writable for reads and GET_ID), and finally one device-writable status byte
 * (§5.2.6). The chain is treated as a byte stream, so the driver may split any part across
 * buffers. Requests complete synchronously inside `queueNotify` against a `BlockBackend`:
 * all available chains are popped, done, pushed with the bytes written, and the driver is
 * notified once per batch.
 *
 * Guest mistakes that still leave a status byte to report through (a sector range past the
 * end of the disk, a write to a read-only disk, a bad segment) complete with IOERR or UNSUPP
 * and a log line; a chain with no room for a header or a status byte cannot be answered and
 * marks the device broken through `host.fail`. Backend errors (StorageError) become IOERR.
 */
import { StateError, StateReader, type SavedState } from '../../persist/persist.js';
import type { BlockBackend } from '../../storage/block-backend.js';
import {
  featureBit,
  VirtioDeviceType,
  VirtioFeatureBit,
  VirtqueueError,
  type Virtqueue,
  type VirtqueueChain,
  type VirtioDevice,
  type VirtioDeviceHost,
} from '../virtio-device.js';

/** virtio-blk feature bit numbers (VIRTIO 1.2 §5.2.3). */
export const enum VirtioBlkFeature {
  SizeMax = 1,
  SegMax = 2,
  Geometry = 4,
  ReadOnly = 5,
  BlkSize = 6,
  Flush = 9,
  Topology = 10,
  ConfigWce = 11,
  MultiQueue = 12,
  Discard = 13,
  WriteZeroes = 14,
}

/** Request types (VIRTIO 1.2 §5.2.6). */
export const enum VirtioBlkRequestType {
  In = 0,
  Out = 1,
  Flush = 4,
  GetId = 8,
  GetLifetime = 10,
  Discard = 11,
  WriteZeroes = 13,
  SecureErase = 14,
}

/** Status byte values (VIRTIO 1.2 §5.2.6). */
export const enum VirtioBlkStatus {
  Ok = 0,
  IoError = 1,
  Unsupported = 2,
}

/** Byte offsets of the fields of struct virtio_blk_config (VIRTIO 1.2 §5.2.4). */
export const enum VirtioBlkConfig {
  Capacity = 0,
  SizeMax = 8,
  SegMax = 12,
  GeometryCylinders = 16,
  GeometryHeads = 18,
  GeometrySectors = 19,
  BlkSize = 20,
  PhysicalBlockExp = 24,
  AlignmentOffset = 25,
  MinIoSize = 26,
  OptIoSize = 28,
  Writeback = 32,
  NumQueues = 34,
  MaxDiscardSectors = 36,
  MaxDiscardSeg = 40,
  DiscardSectorAlignment = 44,
  MaxWriteZeroesSectors = 48,
  MaxWriteZeroesSeg = 52,
  WriteZeroesMayUnmap = 56,
  /** Size of the configuration this device exposes (up to write_zeroes_may_unmap + padding). */
  Size = 60,
}

/** Sector size of the virtio-blk protocol (sector numbers are always in 512-byte units). */
export const VIRTIO_BLK_SECTOR_SIZE = 512;
/** Size of the request queue. */
export const VIRTIO_BLK_QUEUE_SIZE = 256;
/** Bytes of the GET_ID answer (the serial, zero-padded). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** Largest discard segment, in sectors (2 GiB). */
export const VIRTIO_BLK_MAX_DISCARD_SECTORS = 1 << 22;
/** Largest write-zeroes segment, in sectors (32 MiB). */
export const VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS = 1 << 16;
/** Most segments in one discard or write-zeroes request. */
export const VIRTIO_BLK_MAX_SEGMENTS = 32;
/** Discard alignment hint, in sectors (4 KiB). */
const DISCARD_SECTOR_ALIGNMENT = 8;

/** Request header: le32 type, le32 reserved, le64 sector. */
const REQUEST_HEADER_BYTES = 16;
/** Discard/write-zeroes segment: le64 sector, le32 num_sectors, le32 flags. */
const SEGMENT_BYTES = 16;
/** Segment flag: the device may deallocate the range (write zeroes only). */
const SEGMENT_FLAG_UNMAP = 1;
/** Data is moved through a fixed scratch buffer in pieces of this size. */
const TRANSFER_CHUNK_BYTES = 64 * 1024;
/** Version of the saved state layout. */
const VIRTIO_BLK_STATE_VERSION = 1;

/** Options for a virtio-blk device. */
export interface VirtioBlockOptions {
  /** Device and persist name (default "virtio-blk"). */
  readonly name?: string;
  /** The disk contents. */
  readonly backend: BlockBackend;
  /** Serial returned by GET_ID (at most 20 bytes as UTF-8). */
  readonly serial?: string;
  /** Log sink for guest mistakes and backend errors (default: none). */
  readonly log?: (message: string) => void;
}

/**
 * Saved state. Requests complete inside `queueNotify`, so none is in flight when a snapshot
 * is taken; the queues themselves belong to the transport. What is left is whether the
 * driver activated the device and with which features. After a restore the transport
 * rebuilds the queues and calls `activate` again, which replaces both fields.
 */
export interface VirtioBlockState extends SavedState {
  readonly version: number;
  readonly activated: boolean;
  /** Negotiated features (all below bit 53, so a plain number). */
  readonly features: number;
}

/** The outcome of one request: its status and how many writable bytes it filled from the start. */
interface RequestResult {
  status: VirtioBlkStatus;
  /** Writable bytes written from offset 0 (the rest up to the status byte is zero-filled). */
  dataWritten: number;
}

/** A virtio block device (§5.2) backed by a `BlockBackend`. */
export class VirtioBlock implements VirtioDevice {
  readonly name: string;
  readonly persistId: string;
  readonly deviceType = VirtioDeviceType.Block;
  readonly deviceFeatures: bigint;
  readonly queueCount = 1;
  readonly configSize = VirtioBlkConfig.Size;

  private readonly backend: BlockBackend;
  private readonly log: (message: string) => void;
  private readonly config = new Uint8Array(VirtioBlkConfig.Size);
  private readonly configView = new DataView(this.config.buffer);
  private readonly id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  private readonly header = new Uint8Array(REQUEST_HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly segment = new Uint8Array(SEGMENT_BYTES);
  private readonly segmentView = new DataView(this.segment.buffer);
  private readonly statusByte = new Uint8Array(1);
  private readonly scratch = new Uint8Array(TRANSFER_CHUNK_BYTES);
  private readonly result: RequestResult = { status: VirtioBlkStatus.Ok, dataWritten: 0 };

  private features = 0n;
  private activated = false;
  private broken = false;
  private queue: Virtqueue | null = null;
  private host: VirtioDeviceHost | null = null;

  /** Create the device (capacity: whole 512-byte sectors of the backend); throws RangeError on a serial over 20 bytes. */
  constructor(options: VirtioBlockOptions) {
    this.name = options.name ?? 'virtio-blk';
    this.persistId = this.name;
    this.backend = options.backend;
    this.log = options.log ?? (() => {});
    if (options.serial !== undefined) {
      const serial = new TextEncoder().encode(options.serial);
      if (serial.length > VIRTIO_BLK_ID_BYTES) {
        throw new RangeError(`${this.name}: serial '${options.serial}' is ${serial.length} bytes (at most ${VIRTIO_BLK_ID_BYTES})`);
      }
      this.id.set(serial);
    }
    this.deviceFeatures = this.offeredFeatures();
    this.buildConfig();
  }

  /** Largest size of the request queue. */
  queueMaxSize(index: number): number {
    return index === 0 ? VIRTIO_BLK_QUEUE_SIZE : 0;
  }

  /** Little-endian read of the device configuration; bytes past the end read as zero. */
  configRead(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > this.config.length) return 0;
    if (size === 1) return this.config[offset]!;
    if (size === 2) return this.configView.getUint16(offset, true);
    return this.configView.getUint32(offset, true);
  }

  /** The configuration is read-only here (no CONFIG_WCE): writes are logged and ignored. */
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log(`${this.name}: ignored ${size}-byte config write of 0x${value.toString(16)} at ${offset}`);
  }

  /** Start serving the request queue with the negotiated features. */
  activate(features: bigint, queues: readonly (Virtqueue | null)[], host: VirtioDeviceHost): void {
    this.features = features;
    this.queue = queues[0] ?? null;
    this.host = host;
    this.activated = true;
    this.broken = false;
  }

  /** Do every available request, then notify the driver once. */
  queueNotify(index: number): void {
    const queue = this.queue;
    if (index !== 0 || queue === null || !this.activated || this.broken) return;
    let completed = 0;
    for (let budget = queue.size; budget > 0; budget--) {
      const chain = this.popChain(queue);
      if (chain === null || !this.handleChain(queue, chain)) break;
      completed++;
    }
    // Requests finished before a failure are still reported to the driver.
    if (completed > 0) queue.notify();
  }

  /** Drop the queue and the negotiated features. */
  reset(): void {
    this.features = 0n;
    this.activated = false;
    this.broken = false;
    this.queue = null;
    this.host = null;
  }

  /** Save the activation state (nothing is ever in flight; see VirtioBlockState). */
  save(): VirtioBlockState {
    return { version: VIRTIO_BLK_STATE_VERSION, activated: this.activated, features: Number(this.features) };
  }

  /** Restore the activation state; the transport re-activates with live queues afterwards. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([VIRTIO_BLK_STATE_VERSION]);
    const activated = reader.bool('activated');
    const features = BigInt(reader.int('features', 0, Number.MAX_SAFE_INTEGER));
    if ((features & ~this.deviceFeatures) !== 0n) {
      throw new StateError(this.persistId, 'features', `0x${features.toString(16)} has bits the device does not offer`);
    }
    this.activated = activated;
    this.features = features;
    this.broken = false;
  }

  // ---- requests ----

  /** Pop one chain; a corrupt ring marks the device broken and yields null. */
  private popChain(queue: Virtqueue): VirtqueueChain | null {
    try {
      return queue.pop();
    } catch (error) {
      if (error instanceof VirtqueueError) {
        this.failDevice(`request queue: ${error.message}`);
        return null;
      }
      throw error;
    }
  }

  /** Do one request and push it; false when the chain is malformed and the device failed. */
  private handleChain(queue: Virtqueue, chain: VirtqueueChain): boolean {
    if (chain.readableLength < REQUEST_HEADER_BYTES) {
      this.failDevice(`request at descriptor ${chain.head}: ${chain.readableLength} readable bytes, header needs ${REQUEST_HEADER_BYTES}`);
      return false;
    }
    if (chain.writableLength < 1) {
      this.failDevice(`request at descriptor ${chain.head}: no writable status byte`);
      return false;
    }
    try {
      chain.read(0, this.header);
      const result = this.doRequest(chain);
      const statusOffset = chain.writableLength - 1;
      this.zeroFill(chain, result.dataWritten, statusOffset);
      this.statusByte[0] = result.status;
      chain.write(statusOffset, this.statusByte);
      queue.push(chain, chain.writableLength);
    } catch (error) {
      if (error instanceof VirtqueueError) {
        this.failDevice(`request at descriptor ${chain.head}: ${error.message}`);
        return false;
      }
      throw error;
    }
    return true;
  }

  /** Dispatch on the request type. */
  private doRequest(chain: VirtqueueChain): RequestResult {
    const type = this.headerView.getUint32(0, true);
    const sector = this.headerView.getUint32(8, true) + this.headerView.getUint32(12, true) * 2 ** 32;
    const result = this.result;
    result.dataWritten = 0;
    switch (type) {
      case VirtioBlkRequestType.In:
        result.status = this.doRead(chain, sector, result);
        break;
      case VirtioBlkRequestType.Out:
        result.status = this.doWrite(chain, sector);
        break;
      case VirtioBlkRequestType.Flush:
        result.status = this.doFlush();
        break;
      case VirtioBlkRequestType.GetId:
        result.status = this.doGetId(chain, result);
        break;
      case VirtioBlkRequestType.Discard:
      case VirtioBlkRequestType.WriteZeroes:
        result.status = this.doSegments(chain, type);
        break;
      default:
        this.log(`${this.name}: unsupported request type ${type}`);
        result.status = VirtioBlkStatus.Unsupported;
    }
    return result;
  }

  /** IN: read the sectors into the writable buffers before the status byte. */
  private doRead(chain: VirtqueueChain, sector: number, result: RequestResult): VirtioBlkStatus {
    const length = chain.writableLength - 1;
    const start = this.checkRange('read', sector, length);
    if (start < 0) return VirtioBlkStatus.IoError;
    for (let done = 0; done < length; ) {
      const piece = this.scratch.subarray(0, Math.min(TRANSFER_CHUNK_BYTES, length - done));
      if (!this.backendCall('read', () => this.backend.read(start + done, piece))) return VirtioBlkStatus.IoError;
      chain.write(done, piece);
      done += piece.length;
      result.dataWritten = done;
    }
    return VirtioBlkStatus.Ok;
  }

  /** OUT: write the readable bytes after the header to the sectors. */
  private doWrite(chain: VirtqueueChain, sector: number): VirtioBlkStatus {
    if (this.backend.readOnly) {
      this.log(`${this.name}: write to sector ${sector} of a read-only disk`);
      return VirtioBlkStatus.IoError;
    }
    const length = chain.readableLength - REQUEST_HEADER_BYTES;
    const start = this.checkRange('write', sector, length);
    if (start < 0) return VirtioBlkStatus.IoError;
    for (let done = 0; done < length; ) {
      const piece = this.scratch.subarray(0, Math.min(TRANSFER_CHUNK_BYTES, length - done));
      chain.read(REQUEST_HEADER_BYTES + done, piece);
      if (!this.backendCall('write', () => this.backend.write(start + done, piece))) return VirtioBlkStatus.IoError;
      done += piece.length;
    }
    return VirtioBlkStatus.Ok;
  }

  /** FLUSH: make written data durable. */
  private doFlush(): VirtioBlkStatus {
    return this.backendCall('flush', () => this.backend.flush()) ? VirtioBlkStatus.Ok : VirtioBlkStatus.IoError;
  }

  /** GET_ID: the serial, zero-padded to 20 bytes (or as much as fits before the status byte). */
  private doGetId(chain: VirtqueueChain, result: RequestResult): VirtioBlkStatus {
    const length = Math.min(VIRTIO_BLK_ID_BYTES, chain.writableLength - 1);
    chain.write(0, this.id.subarray(0, length));
    result.dataWritten = length;
    return VirtioBlkStatus.Ok;
  }

  /** DISCARD / WRITE_ZEROES: every segment is checked first, then all are done. */
  private doSegments(chain: VirtqueueChain, type: VirtioBlkRequestType): VirtioBlkStatus {
    const discard = type === VirtioBlkRequestType.Discard;
    const what = discard ? 'discard' : 'write-zeroes';
    if (this.backend.readOnly) {
      this.log(`${this.name}: ${what} on a read-only disk`);
      return VirtioBlkStatus.IoError;
    }
    const bytes = chain.readableLength - REQUEST_HEADER_BYTES;
    const count = bytes / SEGMENT_BYTES;
    if (!Number.isInteger(count) || count < 1 || count > VIRTIO_BLK_MAX_SEGMENTS) {
      this.log(`${this.name}: ${what} with ${bytes} bytes of segments (16-byte segments, 1..${VIRTIO_BLK_MAX_SEGMENTS})`);
      return VirtioBlkStatus.IoError;
    }
    const maxSectors = discard ? VIRTIO_BLK_MAX_DISCARD_SECTORS : VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < count; i++) {
        chain.read(REQUEST_HEADER_BYTES + i * SEGMENT_BYTES, this.segment);
        const sector = this.segmentView.getUint32(0, true) + this.segmentView.getUint32(4, true) * 2 ** 32;
        const sectors = this.segmentView.getUint32(8, true);
        const flags = this.segmentView.getUint32(12, true);
        if (pass === 0) {
          const status = this.checkSegment(what, discard, sector, sectors, flags, maxSectors);
          if (status !== VirtioBlkStatus.Ok) return status;
          continue;
        }
        const offset = sector * VIRTIO_BLK_SECTOR_SIZE;
        const length = sectors * VIRTIO_BLK_SECTOR_SIZE;
        const unmap = (flags & SEGMENT_FLAG_UNMAP) !== 0;
        const ok = discard
          ? this.backendCall(what, () => this.backend.discard(offset, length))
          : this.backendCall(what, () => this.backend.writeZeroes(offset, length, unmap));
        if (!ok) return VirtioBlkStatus.IoError;
      }
    }
    return VirtioBlkStatus.Ok;
  }

  /** Validate one discard/write-zeroes segment (§5.2.6.2: unmap and reserved flags). */
  private checkSegment(what: string, discard: boolean, sector: number, sectors: number, flags: number, maxSectors: number): VirtioBlkStatus {
    const reserved = flags & ~SEGMENT_FLAG_UNMAP;
    if (reserved !== 0 || (discard && (flags & SEGMENT_FLAG_UNMAP) !== 0)) {
      this.log(`${this.name}: ${what} segment with unsupported flags 0x${flags.toString(16)}`);
      return VirtioBlkStatus.Unsupported;
    }
    if (sectors > maxSectors) {
      this.log(`${this.name}: ${what} segment of ${sectors} sectors (at most ${maxSectors})`);
      return VirtioBlkStatus.IoError;
    }
    return this.checkRange(what, sector, sectors * VIRTIO_BLK_SECTOR_SIZE) < 0 ? VirtioBlkStatus.IoError : VirtioBlkStatus.Ok;
  }

  /** Byte offset of `sector` when [sector, sector + length) is whole sectors inside the disk; -1 (logged) otherwise. */
  private checkRange(what: string, sector: number, length: number): number {
    const offset = sector * VIRTIO_BLK_SECTOR_SIZE;
    if (length % VIRTIO_BLK_SECTOR_SIZE !== 0) {
      this.log(`${this.name}: ${what} of ${length} bytes at sector ${sector} is not whole sectors`);
      return -1;
    }
    if (offset + length > this.backend.sizeBytes) {
      this.log(`${this.name}: ${what} of ${length} bytes at sector ${sector} passes the end of the disk (${this.backend.sizeBytes} bytes)`);
      return -1;
    }
    return offset;
  }

  /** Run a backend operation; a thrown error is logged and reported as false. */
  private backendCall(what: string, operation: () => void): boolean {
    try {
      operation();
      return true;
    } catch (error) {
      if (error instanceof VirtqueueError) throw error;
      this.log(`${this.name}: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /**
   * Zero the writable bytes [from, to) that the request did not fill, so that the used
   * length can cover every byte up to the status byte (§2.7.8.1: len counts bytes written
   * from the start) and a failed read leaves no stale guest data looking valid.
   */
  private zeroFill(chain: VirtqueueChain, from: number, to: number): void {
    if (from >= to) return;
    this.scratch.fill(0);
    for (let done = from; done < to; ) {
      const piece = this.scratch.subarray(0, Math.min(TRANSFER_CHUNK_BYTES, to - done));
      chain.write(done, piece);
      done += piece.length;
    }
  }

  /** Mark the device broken and tell the transport why. */
  private failDevice(reason: string): void {
    this.broken = true;
    this.log(`${this.name}: ${reason}`);
    this.host?.fail(reason);
  }

  // ---- identity ----

  /** Features offered: the configuration fields filled in below, plus the ring features. */
  private offeredFeatures(): bigint {
    let features =
      featureBit(VirtioBlkFeature.SegMax) |
      featureBit(VirtioBlkFeature.BlkSize) |
      featureBit(VirtioBlkFeature.Flush) |
      featureBit(VirtioBlkFeature.Discard) |
      featureBit(VirtioBlkFeature.WriteZeroes) |
      featureBit(VirtioFeatureBit.IndirectDescriptors) |
      featureBit(VirtioFeatureBit.EventIndex) |
      featureBit(VirtioFeatureBit.Version1);
    if (this.backend.readOnly) features |= featureBit(VirtioBlkFeature.ReadOnly);
    return features;
  }

  /** Fill struct virtio_blk_config once (the disk size does not change). */
  private buildConfig(): void {
    const view = this.configView;
    const capacity = Math.floor(this.backend.sizeBytes / VIRTIO_BLK_SECTOR_SIZE);
    view.setUint32(VirtioBlkConfig.Capacity, capacity % 2 ** 32, true);
    view.setUint32(VirtioBlkConfig.Capacity + 4, Math.floor(capacity / 2 ** 32), true);
    view.setUint32(VirtioBlkConfig.SegMax, VIRTIO_BLK_QUEUE_SIZE - 2, true);
    view.setUint32(VirtioBlkConfig.BlkSize, VIRTIO_BLK_SECTOR_SIZE, true);
    view.setUint8(VirtioBlkConfig.Writeback, 1);
    view.setUint16(VirtioBlkConfig.NumQueues, 1, true);
    view.setUint32(VirtioBlkConfig.MaxDiscardSectors, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
    view.setUint32(VirtioBlkConfig.MaxDiscardSeg, VIRTIO_BLK_MAX_SEGMENTS, true);
    view.setUint32(VirtioBlkConfig.DiscardSectorAlignment, DISCARD_SECTOR_ALIGNMENT, true);
    view.setUint32(VirtioBlkConfig.MaxWriteZeroesSectors, VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS, true);
    view.setUint32(VirtioBlkConfig.MaxWriteZeroesSeg, VIRTIO_BLK_MAX_SEGMENTS, true);
    view.setUint8(VirtioBlkConfig.WriteZeroesMayUnmap, 1);
  }
}
