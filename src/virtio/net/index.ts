/** virtio-net device (VIRTIO 1.2 §5.1). */
export * from './virtio-net.js';
