/** Local APIC (xAPIC) of the one processor. */
export * from './lapic.js';
