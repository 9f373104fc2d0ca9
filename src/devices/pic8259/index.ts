/** The PC's 8259A master/slave interrupt controller pair with the PIIX ELCR. */
export * from './pic8259.js';
