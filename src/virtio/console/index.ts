/** virtio-console (VIRTIO 1.2 §5.3). */
export * from './virtio-console.js';
