/** ACPI PM1 event/control registers and PM timer. */
export * from './acpi-pm.js';
