/**
 * Instruction-boundary shadows. After STI (when IF was clear) external interrupts are not
 * recognised until one more instruction has run; after MOV SS / POP SS neither interrupts
 * nor the single-step trap are (SDM vol. 3, "Interrupt Enabling and Disabling"). An
 * instruction requests a shadow with these bits; the run loop applies it at the boundary
 * after that instruction.
 */
export const enum Shadow {
  Interrupts = 1,
  Trap = 2,
}
