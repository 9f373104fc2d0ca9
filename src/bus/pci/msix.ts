/**
 * MSI-X state of one PCI function (PCI Local Bus Specification 3.0 §6.8.2 "MSI-X Capability
 * and Table Structures"): the capability's Message Control register (table size, function
 * mask, enable), the vector table (16 bytes per entry: message address, upper address,
 * data, vector control) and the pending-bit array, plus decoding a table entry into an
 * interrupt message for the local APIC (Intel SDM vol. 3A §11.11 "Message Signalled
 * Interrupts": address 0xFEExxxxx, destination ID in bits 19:12, destination mode in bit 2;
 * data: vector in bits 7:0, delivery mode in 10:8, trigger mode in bit 15).
 *
 * The bus owns one `MsixState` per function with `PciFunction.msix`; `MsixBarWindow` sits
 * on the MMIO bus in place of the device's handler for a BAR holding the table or the PBA
 * and sends accesses in those ranges here, everything else to the device.
 */
import { allOnes, maskToSize, type AccessSize } from '../io-bus.js';
import type { MmioDevice } from '../mmio-bus.js';
import type { ApicMessageSink } from '../apic-bus.js';
import type { PciMsixDefinition } from './pci-function.js';

/** Layout of the MSI-X capability and its table (PCI 3.0 §6.8.2). */
export const enum MsixLayout {
  /** Capability length: ID, next, Message Control, Table Offset/BIR, PBA Offset/BIR. */
  CapabilityLength = 12,
  ControlOffset = 2,
  TableOffsetOffset = 4,
  PbaOffsetOffset = 8,
  /** Bytes per table entry. */
  EntryBytes = 16,
  /** Dwords per table entry. */
  EntryDwords = 4,
  /** Dword index inside an entry. */
  AddressDword = 0,
  UpperAddressDword = 1,
  DataDword = 2,
  VectorControlDword = 3,
  /** Largest table (Table Size field is 11 bits, N - 1). */
  MaxVectors = 2048,
}

/** Message Control bits (PCI 3.0 §6.8.2.3). */
export const enum MsixControl {
  TableSizeMask = 0x07ff,
  FunctionMask = 1 << 14,
  Enable = 1 << 15,
}

/** Vector Control bit 0: the entry is masked. */
export const MSIX_VECTOR_MASKED = 1;
/** Bits 31:20 of a message address that targets the local APICs. */
export const MSI_ADDRESS_APIC_PREFIX = 0xfee;

/** Bytes of the pending-bit array for `vectors` (whole qwords). */
export function msixPbaBytes(vectors: number): number {
  return Math.ceil(vectors / 64) * 8;
}

/** MSI-X registers, table and pending bits of one function. */
export class MsixState {
  /** `vectors` entries × 4 dwords. */
  readonly table: Uint32Array;
  /** One byte per vector: 1 = pending. */
  readonly pending: Uint8Array;
  enabled = false;
  functionMask = false;

  constructor(
    readonly definition: PciMsixDefinition,
    private readonly owner: string,
    private readonly sink: ApicMessageSink,
    private readonly log: (message: string) => void,
  ) {
    this.table = new Uint32Array(definition.vectors * MsixLayout.EntryDwords);
    this.pending = new Uint8Array(definition.vectors);
    this.reset();
  }

  /** Number of table entries. */
  get vectors(): number {
    return this.definition.vectors;
  }

  /** Power-on state: disabled, not function-masked, every entry zero and masked, nothing pending. */
  reset(): void {
    this.enabled = false;
    this.functionMask = false;
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.table[v * MsixLayout.EntryDwords + MsixLayout.VectorControlDword] = MSIX_VECTOR_MASKED;
    this.pending.fill(0);
  }

  /** The Message Control register. */
  control(): number {
    return (
      ((this.vectors - 1) & MsixControl.TableSizeMask) |
      (this.functionMask ? MsixControl.FunctionMask : 0) |
      (this.enabled ? MsixControl.Enable : 0)
    );
  }

  /** Guest wrote Message Control: only the enable and function-mask bits are writable. */
  writeControl(value: number): void {
    this.enabled = (value & MsixControl.Enable) !== 0;
    this.functionMask = (value & MsixControl.FunctionMask) !== 0;
    this.deliverUnmaskedPending();
  }

  /** Table Offset/BIR register value (offset in bits 31:3, BAR indicator in 2:0). */
  tableOffsetRegister(): number {
    return (this.definition.tableOffset | this.definition.tableBar) >>> 0;
  }

  /** PBA Offset/BIR register value. */
  pbaOffsetRegister(): number {
    return (this.definition.pbaOffset | this.definition.pbaBar) >>> 0;
  }

  /** True when messages may be sent (enabled, not function-masked). */
  active(): boolean {
    return this.enabled && !this.functionMask;
  }

  /**
   * Signal `vector`: send it when active and the entry is unmasked, else set its pending
   * bit. Returns false when MSI-X is disabled or the vector does not exist.
   */
  signal(vector: number): boolean {
    if (!this.enabled || !Number.isInteger(vector) || vector < 0 || vector >= this.vectors) return false;
    if (this.functionMask || this.entryMasked(vector)) this.pending[vector] = 1;
    else this.deliver(vector);
    return true;
  }

  /** Read `size` bytes at `offset` inside the table. */
  readTable(offset: number, size: AccessSize): number {
    const index = offset >>> 2;
    if (index >= this.table.length) return 0;
    return extractBytes(this.table[index]!, offset & 3, size);
  }

  /** Write `size` bytes at `offset` inside the table; unmasking an entry sends its pending message. */
  writeTable(offset: number, size: AccessSize, value: number): void {
    const index = offset >>> 2;
    if (index >= this.table.length) return;
    const merged = mergeBytes(this.table[index]!, offset & 3, size, value);
    const field = index % MsixLayout.EntryDwords;
    if (field === MsixLayout.AddressDword) this.table[index] = merged & ~3;
    else if (field === MsixLayout.VectorControlDword) this.table[index] = merged & MSIX_VECTOR_MASKED;
    else this.table[index] = merged;
    if (field === MsixLayout.VectorControlDword) this.deliverIfUnmaskedPending(index >>> 2);
  }

  /** Read `size` bytes at `offset` inside the pending-bit array (read-only to software). */
  readPba(offset: number, size: AccessSize): number {
    let value = 0;
    for (let byte = 0; byte < size; byte++) {
      const first = (offset + byte) * 8;
      for (let bit = 0; bit < 8; bit++) {
        const vector = first + bit;
        if (vector < this.vectors && this.pending[vector] === 1) value |= 1 << (byte * 8 + bit);
      }
    }
    return value >>> 0;
  }

  /** True when entry `vector`'s Vector Control mask bit is set. */
  entryMasked(vector: number): boolean {
    return (this.table[vector * MsixLayout.EntryDwords + MsixLayout.VectorControlDword]! & MSIX_VECTOR_MASKED) !== 0;
  }

  /** Send every pending vector that is now unmasked. */
  deliverUnmaskedPending(): void {
    if (!this.active()) return;
    for (let v = 0; v < this.vectors; v++) this.deliverIfUnmaskedPending(v);
  }

  private deliverIfUnmaskedPending(vector: number): void {
    if (this.pending[vector] !== 1 || !this.active() || this.entryMasked(vector)) return;
    this.pending[vector] = 0;
    this.deliver(vector);
  }

  /** Decode entry `vector` and hand the message to the APIC bus. */
  private deliver(vector: number): void {
    const base = vector * MsixLayout.EntryDwords;
    const address = this.table[base + MsixLayout.AddressDword]!;
    const upper = this.table[base + MsixLayout.UpperAddressDword]!;
    const data = this.table[base + MsixLayout.DataDword]!;
    if (upper !== 0 || address >>> 20 !== MSI_ADDRESS_APIC_PREFIX) {
      this.log(`${this.owner}: MSI-X vector ${vector} has address 0x${upper.toString(16)}:${address.toString(16)} outside 0xFEExxxxx; message dropped`);
      return;
    }
    const destination = (address >>> 12) & 0xff;
    const destinationMode = (address >>> 2) & 1;
    const apicVector = data & 0xff;
    const delivery = (data >>> 8) & 7;
    const levelTriggered = (data & 0x8000) !== 0;
    this.sink.deliverMessage(apicVector, delivery, destinationMode, destination, levelTriggered);
  }
}

/** Merge a `size`-byte write of `value` at byte `byteOffset` into the dword `old`. */
export function mergeBytes(old: number, byteOffset: number, size: AccessSize, value: number): number {
  if (size === 4 && byteOffset === 0) return value >>> 0;
  const shift = byteOffset * 8;
  const mask = allOnes(size) << shift;
  return ((old & ~mask) | ((value << shift) & mask)) >>> 0;
}

/** The `size` bytes of `dword` starting at byte `byteOffset` (a narrow read of a register). */
export function extractBytes(dword: number, byteOffset: number, size: AccessSize): number {
  return maskToSize(dword >>> (byteOffset * 8), size);
}

/**
 * The MMIO handler the bus maps for a BAR holding the MSI-X table and/or PBA: accesses in
 * those ranges go to the bus's MSI-X state, all others to the device's own handler.
 */
export class MsixBarWindow implements MmioDevice {
  readonly name: string;
  private readonly tableStart: number;
  private readonly tableEnd: number;
  private readonly pbaStart: number;
  private readonly pbaEnd: number;

  constructor(private readonly inner: MmioDevice, private readonly msix: MsixState, barIndex: number) {
    this.name = inner.name;
    const d = msix.definition;
    const hasTable = d.tableBar === barIndex;
    const hasPba = d.pbaBar === barIndex;
    this.tableStart = hasTable ? d.tableOffset : -1;
    this.tableEnd = hasTable ? d.tableOffset + d.vectors * MsixLayout.EntryBytes : -1;
    this.pbaStart = hasPba ? d.pbaOffset : -1;
    this.pbaEnd = hasPba ? d.pbaOffset + msixPbaBytes(d.vectors) : -1;
  }

  /** Table and PBA reads are served by the bus, the rest by the device. */
  mmioRead(offset: number, size: AccessSize): number {
    if (offset >= this.tableStart && offset < this.tableEnd) return this.msix.readTable(offset - this.tableStart, size);
    if (offset >= this.pbaStart && offset < this.pbaEnd) return this.msix.readPba(offset - this.pbaStart, size);
    return this.inner.mmioRead(offset, size);
  }

  /** Table writes are served by the bus, PBA writes are ignored (read-only), the rest go to the device. */
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset >= this.tableStart && offset < this.tableEnd) this.msix.writeTable(offset - this.tableStart, size, value);
    else if (offset >= this.pbaStart && offset < this.pbaEnd) return;
    else this.inner.mmioWrite(offset, size, value);
  }
}
