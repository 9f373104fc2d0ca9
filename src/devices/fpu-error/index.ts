/** The PC/AT coprocessor-error latch (FERR# → IRQ 13, cleared through port F0h). */
export { FpuErrorLatch, FPU_ERROR_CLEAR_PORT, FPU_ERROR_IRQ, type FpuErrorLatchState } from './fpu-error.js';
