/** Channels: loopback, MessagePort and stream-socket transports. */
export * from './channel.js';
export * from './socket-channel.js';
