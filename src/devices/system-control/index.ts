/** System control port A (0x92: fast A20 and reset) and the POST code port (0x80). */
export * from './system-control.js';
