/** ACPI tables of our PC: the AML encoder, the DSDT, the fixed tables and their placement. */
export * from './aml.js';
export * from './dsdt.js';
export * from './tables.js';
export * from './build.js';
