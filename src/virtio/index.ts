/**
 * Virtio (VIRTIO 1.2): the device interface, split virtqueues, the virtio-pci transport and
 * the devices built on them. The board plugs a `VirtioPciFunction` wrapping a device into the
 * PCI bus.
 */
export {
  type VirtioDevice,
  type VirtioDeviceHost,
  type Virtqueue,
  type VirtqueueBuffer,
  type VirtqueueChain,
  VirtioDeviceType,
  VirtioFeatureBit,
  VirtqueueError,
  featureBit,
} from './virtio-device.js';
export {
  type SplitVirtqueueOptions,
  type VirtqueueAddresses,
  type VirtqueueCounters,
  SplitVirtqueue,
  VirtqDescFlag,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_MAX_SIZE,
  legacyRingAddresses,
} from './virtqueue.js';
export {
  type VirtioPciOptions,
  type VirtioPciQueueState,
  type VirtioPciState,
  VirtioPciFunction,
  VirtioPciOptionError,
  VirtioCommonCfg,
  VirtioIsr,
  VirtioLegacyReg,
  VirtioPciCapType,
  VirtioPciLayout,
  VirtioStatus,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_MODERN_DEVICE_ID_BASE,
  VIRTIO_PCI_VENDOR_ID,
} from './pci/virtio-pci.js';
export {
  type VirtioConsoleOptions,
  type VirtioConsoleState,
  VirtioConsole,
  VirtioConsoleConfig,
  VirtioConsoleFeature,
  VirtioConsoleQueue,
  VIRTIO_CONSOLE_COLS,
  VIRTIO_CONSOLE_INPUT_CAPACITY,
  VIRTIO_CONSOLE_QUEUE_SIZE,
  VIRTIO_CONSOLE_ROWS,
} from './console/virtio-console.js';
