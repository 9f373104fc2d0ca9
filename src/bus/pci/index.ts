/** PCI bus 0: configuration mechanism #1, the 440FX/PIIX3 bridges, PIRQ routing and MSI-X. */
export * from './pci-function.js';
export * from './pci-bus.js';
export * from './pirq-router.js';
export * from './msix.js';
