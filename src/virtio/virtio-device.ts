/**
 * A virtio device as its transport sees it (Virtual I/O Device (VIRTIO) Version 1.2,
 * ch. 2 "Basic Facilities of a Virtio Device" and ch. 5 "Device Types"). The device part —
 * feature bits, device-specific configuration, what a queue notification does — is kept
 * apart from the transport (virtio-pci, src/virtio/pci) that carries the common
 * configuration, the device status, the queues' addresses, notifications and interrupts,
 * so the same device could sit behind another transport.
 *
 * Flow: the transport negotiates features, sets the queues up, and when the driver sets
 * DRIVER_OK it calls `activate` with live queues. The driver's queue notifications come to
 * `queueNotify`; the device pops chains, does the work, pushes them to the used ring and
 * calls `queue.notify()`, which interrupts the driver when the ring's suppression rules
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX) allow it.
 */
import type { Persist } from '../persist/persist.js';

/** Device IDs (VIRTIO 1.2 §5). */
export const enum VirtioDeviceType {
  Net = 1,
  Block = 2,
  Console = 3,
}

/** Reserved (device-independent) feature bit numbers (VIRTIO 1.2 §6). */
export const enum VirtioFeatureBit {
  IndirectDescriptors = 28,
  EventIndex = 29,
  Version1 = 32,
}

/** The feature mask with bit `bit` set. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** A device-readable or device-writable buffer of a descriptor chain, in guest-physical memory. */
export interface VirtqueueBuffer {
  readonly address: number;
  readonly length: number;
}

/**
 * One descriptor chain taken from a queue's available ring. Readable buffers (driver to
 * device) come first in a chain, writable ones (device to driver) after them (§2.7.4.2).
 * Offsets below are byte offsets across all readable (or all writable) buffers together.
 */
export interface VirtqueueChain {
  /** Head descriptor index (what goes into the used ring). */
  readonly head: number;
  readonly readable: readonly VirtqueueBuffer[];
  readonly writable: readonly VirtqueueBuffer[];
  /** Total bytes of the readable / writable buffers. */
  readonly readableLength: number;
  readonly writableLength: number;
  /** Copy readable bytes [offset, offset + dst.length) into `dst`; throws VirtqueueError past the end. */
  read(offset: number, dst: Uint8Array): void;
  /** Copy `src` into the writable bytes at `offset` (DMA: marks guest pages dirty); throws VirtqueueError past the end. */
  write(offset: number, src: Uint8Array): void;
}

/** The device's handle on one live queue. */
export interface Virtqueue {
  readonly index: number;
  /** Queue size the driver chose. */
  readonly size: number;
  /**
   * The next available chain, or null when the ring is empty. A corrupt ring (index out of
   * range, descriptor loop, chain longer than the queue, buffer outside guest RAM, bad
   * indirect table, readable after writable) throws VirtqueueError; the transport then marks
   * the device broken (DEVICE_NEEDS_RESET) and logs why.
   */
  pop(): VirtqueueChain | null;
  /** Put a chain in the used ring with `written` bytes written to its writable buffers. */
  push(chain: VirtqueueChain, written: number): void;
  /** Interrupt the driver for this queue if the suppression rules allow it. */
  notify(): void;
  /** Chains popped and not yet pushed (requests in flight). */
  readonly inFlight: number;
}

/** What the transport gives an activated device. */
export interface VirtioDeviceHost {
  /** The device-specific configuration changed (raises a configuration-change interrupt). */
  configChanged(): void;
  /** The device cannot go on (e.g. the driver corrupted a ring): DEVICE_NEEDS_RESET + a log line naming `reason`. */
  fail(reason: string): void;
  /** Log line for this device. */
  log(message: string): void;
}

/** The device side of a virtio device. */
export interface VirtioDevice extends Persist {
  /** Name for logs ("virtio-blk0"). */
  readonly name: string;
  readonly deviceType: VirtioDeviceType;
  /** Feature bits the device offers, including the ring features it supports (always Version1). */
  readonly deviceFeatures: bigint;
  readonly queueCount: number;
  /** Largest size of queue `index` (a power of two, <= 32768). */
  queueMaxSize(index: number): number;
  /** Bytes of device-specific configuration. */
  readonly configSize: number;
  /** Read `size` bytes of device configuration at `offset` (< configSize). */
  configRead(offset: number, size: 1 | 2 | 4): number;
  /** Write device configuration (most fields are read-only: ignored). */
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * The driver set DRIVER_OK: `queues` are live (index = queue number; null = not enabled).
   * On a snapshot restore of an active device the transport calls `restore()` first and then
   * `activate()` with the queues resumed at their saved ring positions, so `activate` must
   * keep the state `restore` put back (backlogs, counters).
   */
  activate(features: bigint, queues: readonly (Virtqueue | null)[], host: VirtioDeviceHost): void;
  /** The driver notified queue `index` (only after activate). */
  queueNotify(index: number): void;
  /** Device reset (driver wrote status 0, or bus reset): drop queues and in-flight work. */
  reset(): void;
}

/** A ring the driver corrupted; the message names the queue, the descriptor and the problem. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}
