/** 8042 keyboard controller with PS/2 keyboard and mouse (ports 0x60/0x64, IRQ 1/12). */
export * from './i8042.js';
export * from './ps2-devices.js';
