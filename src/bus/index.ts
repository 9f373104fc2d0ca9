/**
 * The bus layer: I/O-port bus, MMIO bus and interrupt lines (DESIGN.md, "Layers").
 */
export {
  type AccessSize,
  type IoDevice,
  type UnclaimedAccess,
  IoBus,
  BusOverlapError,
  BusRangeError,
  IO_PORT_COUNT,
  IO_PORT_MAX,
  UNCLAIMED_LOG_CAPACITY,
  allOnes,
  maskToSize,
} from './io-bus.js';
export { type MmioDevice, type UnclaimedMmioAccess, MmioBus, MMIO_ADDRESS_SPACE } from './mmio-bus.js';
export { type IrqSink, IrqLine } from './irq.js';
export { RecentRing } from './access-log.js';
