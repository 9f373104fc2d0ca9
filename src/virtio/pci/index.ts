/** The virtio-pci transport (VIRTIO 1.2 §4.1). */
export * from './virtio-pci.js';
