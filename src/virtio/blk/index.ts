/** virtio-blk device (VIRTIO 1.2 §5.2). */
export * from './virtio-blk.js';
