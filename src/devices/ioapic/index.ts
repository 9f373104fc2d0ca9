/** 82093AA-style I/O APIC. */
export * from './ioapic.js';
