/** Virtual Ethernet: ports and the learning switch. */
export * from './network-port.js';
export * from './switch.js';
