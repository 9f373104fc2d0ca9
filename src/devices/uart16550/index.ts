/** 16550A UART. */
export * from './uart16550.js';
