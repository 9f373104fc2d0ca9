/**
 * The APIC bus: how interrupt messages travel from an I/O APIC (or a local APIC's ICR) to
 * local APICs, and how end-of-interrupt travels back for level-triggered sources
 * (Intel SDM vol. 3A ch. 11 "Advanced Programmable Interrupt Controller", and the 82093AA
 * I/O APIC datasheet). On the PC board there is one local APIC; the board connects the
 * I/O APIC's output to it and its EOI broadcast back to the I/O APIC. Messages are passed
 * as plain numbers (no objects) because the path runs for every device interrupt.
 */

/** Delivery modes of an interrupt message (SDM "Delivery Mode" field, 3 bits). */
export const enum ApicDelivery {
  Fixed = 0,
  LowestPriority = 1,
  Smi = 2,
  Nmi = 4,
  Init = 5,
  StartUp = 6,
  ExtInt = 7,
}

/** Destination modes (SDM "Destination Mode" bit). */
export const enum ApicDestinationMode {
  Physical = 0,
  Logical = 1,
}

/** Something that accepts interrupt messages: the local APIC(s) behind the bus. */
export interface ApicMessageSink {
  /**
   * Deliver one message. `destination` is the 8-bit APIC ID (physical) or logical
   * destination (logical, matched against LDR/DFR). `levelTriggered` makes the receiver
   * set its TMR bit and broadcast an EOI for `vector` when the guest ends the interrupt.
   * Returns true when some local APIC accepted the message.
   */
  deliverMessage(vector: number, delivery: ApicDelivery, destinationMode: ApicDestinationMode, destination: number, levelTriggered: boolean): boolean;
}

/** Something that needs to hear a local APIC's EOI for a level-triggered vector (the I/O APIC). */
export interface ApicEoiListener {
  /** The guest ended level-triggered interrupt `vector` at a local APIC. */
  endOfInterrupt(vector: number): void;
}
