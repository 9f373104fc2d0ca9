/**
 * The PC platform's interrupt and timer hardware, wired the way a modern PC has it:
 *
 *   ISA IRQ lines 0-15 ──┬──> 8259A pair (master IRQ 2 = cascade)
 *                        └──> I/O APIC pins (IRQ 0 -> pin 2, IRQ n -> pin n)
 *   8259A INTR ──────────┬──> local APIC LINT0 (ExtINT in virtual-wire mode)
 *                        └──> I/O APIC pin 0 (ExtINT)
 *   I/O APIC ──APIC bus──> local APIC ──INTR──> CPU (its InterruptSource)
 *   local APIC EOI (level-triggered vectors) ──> I/O APIC
 *
 * and the legacy devices around them: 8254 PIT (ports 40h-43h, port 61h, IRQ 0),
 * MC146818 RTC/CMOS (70h-71h, IRQ 8), i8042 keyboard controller (60h, 64h, IRQ 1 and 12),
 * port 92h (fast A20 and reset), port 80h (POST codes, Linux's I/O delay), the ACPI PM
 * block (600h-60Bh: PM1 event/control, PM timer; SCI on IRQ 9), the coprocessor-error
 * latch (FERR# → IRQ 13, cleared at F0h), the local APIC at FEE00000h and the I/O APIC at
 * FEC00000h.
 *
 * The platform owns no CPU and no memory: the board gives it the buses, the VM clock, and
 * callbacks for what the chipset does to the processor (A20, reset, the INTR level).
 */
import type { IoBus } from '../bus/io-bus.js';
import { IrqLine } from '../bus/irq.js';
import type { MmioBus } from '../bus/mmio-bus.js';
import { AcpiPm, ACPI_PM_PORT_COUNT } from '../devices/acpi-pm/acpi-pm.js';
import { FpuErrorLatch, FPU_ERROR_CLEAR_PORT, FPU_ERROR_IRQ } from '../devices/fpu-error/fpu-error.js';
import { I8042 } from '../devices/i8042/i8042.js';
import { IoApic, IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE } from '../devices/ioapic/ioapic.js';
import { LocalApic, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE } from '../devices/lapic/lapic.js';
import { Pic8259Pair, PIC_ELCR_BASE, PIC_ELCR_PORT_COUNT, PIC_MASTER_BASE, PIC_PORT_COUNT, PIC_SLAVE_BASE } from '../devices/pic8259/pic8259.js';
import { Pit8254, PIT_BASE, PIT_PORT_B, PIT_PORT_COUNT } from '../devices/pit8254/pit8254.js';
import { RtcCmos, RTC_INDEX_PORT, RTC_PORT_COUNT } from '../devices/rtc-cmos/rtc-cmos.js';
import { PostCodePort, POST_CODE_PORT, SystemControlPortA, SYSTEM_CONTROL_PORT_A } from '../devices/system-control/system-control.js';
import type { Persist } from '../persist/persist.js';
import type { VmClock } from './vm-clock.js';

/** Number of ISA interrupt lines. */
export const ISA_IRQ_COUNT = 16;
/** ISA IRQ 2 is the 8259 cascade input; no device may use it. */
export const ISA_CASCADE_IRQ = 2;
/** I/O APIC pin of the 8259's INTR output (ExtINT). */
export const IOAPIC_EXTINT_PIN = 0;
/** I/O APIC ID (the CPU's local APIC has ID 0). */
export const IOAPIC_ID = 1;
/** I/O base of the ACPI PM register block (as the FADT describes it). */
export const ACPI_PM_BASE = 0x600;
/** ISA IRQ of the ACPI system control interrupt (level, active high). */
export const ACPI_SCI_IRQ = 9;
/** I/O APIC pin that ISA IRQ `irq` drives (IRQ 0, the PIT, goes to pin 2 as on most PCs). */
export function ioApicPinOfIsaIrq(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** What the platform needs from the board. */
export interface PlatformOptions {
  readonly io: IoBus;
  readonly mmio: MmioBus;
  readonly clock: VmClock;
  readonly memoryBytes: number;
  /** Unix seconds the RTC shows at power-on. */
  readonly rtcBaseTimeSeconds: number;
  /** The A20 gate (i8042 output port OR port 92h bit 1) changed. */
  readonly onA20: (enabled: boolean) => void;
  /** The chipset asked for a system reset (i8042, port 92h). */
  readonly onReset: () => void;
  /** The guest entered ACPI S5 (soft off). */
  readonly onPowerOff: () => void;
  /** The level of the CPU's INTR input changed. */
  readonly onInterruptOutput: (level: boolean) => void;
}

/** The interrupt controllers, timers and legacy ports of one PC. */
export class PcPlatform {
  /** ISA interrupt lines 0-15 (devices raise these; line 2 is unused: cascade). */
  readonly isaIrq: readonly IrqLine[];
  readonly pic: Pic8259Pair;
  readonly pit: Pit8254;
  readonly rtc: RtcCmos;
  readonly i8042: I8042;
  readonly port92: SystemControlPortA;
  readonly port80 = new PostCodePort();
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  readonly acpiPm: AcpiPm;
  /** Wire the FPU's FERR# output to `fpuError.setFerr`. */
  readonly fpuError: FpuErrorLatch;

  constructor(options: PlatformOptions) {
    const { io, mmio, clock } = options;
    this.isaIrq = Array.from({ length: ISA_IRQ_COUNT }, (_, n) => new IrqLine(`irq${n}`));
    // Declared before use in closures: the PIC's output feeds the LAPIC and I/O APIC.
    let lapic: LocalApic | null = null;
    let ioapic: IoApic | null = null;
    this.pic = new Pic8259Pair({
      onOutput: (level) => {
        lapic?.setLint0(level);
        ioapic?.setPin(IOAPIC_EXTINT_PIN, level);
      },
    });
    lapic = new LocalApic({
      clock,
      apicId: 0,
      extInt: this.pic,
      onOutput: options.onInterruptOutput,
      eoiListener: { endOfInterrupt: (vector) => ioapic?.endOfInterrupt(vector) },
      onRelocate: (base) => this.relocateLapic(base),
    });
    ioapic = new IoApic({ sink: lapic, apicId: IOAPIC_ID });
    this.lapic = lapic;
    this.ioapic = ioapic;
    this.mmio = mmio;

    this.pit = new Pit8254({ clock, irq0: this.isaIrq[0] });
    this.rtc = new RtcCmos({ clock, irq: this.isaIrq[8], baseTimeSeconds: options.rtcBaseTimeSeconds, memoryBytes: options.memoryBytes });
    const a20 = (): void => options.onA20(this.i8042.a20Enabled || this.port92.a20Enabled);
    this.i8042 = new I8042({ kbdIrq: this.isaIrq[1], auxIrq: this.isaIrq[12], onReset: options.onReset, onA20: a20 });
    this.port92 = new SystemControlPortA({ onReset: options.onReset, onA20: a20 });
    this.acpiPm = new AcpiPm({ clock, sci: this.isaIrq[ACPI_SCI_IRQ], onPowerOff: options.onPowerOff });
    this.fpuError = new FpuErrorLatch(this.isaIrq[FPU_ERROR_IRQ]);

    this.connectIsaLines();
    this.registerPorts(io);
    mmio.register(this.ioapic, IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE);
    mmio.register(this.lapic, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE);
    this.lapicBase = LAPIC_DEFAULT_BASE;
    clock.addDevice(this.pit);
    clock.addDevice(this.rtc);
    clock.addDevice(this.lapic);
    clock.addDevice(this.acpiPm);
  }

  private readonly mmio: MmioBus;
  private lapicBase: number;

  /** Fan each ISA line out to the 8259 input and the I/O APIC pin it drives. */
  private connectIsaLines(): void {
    for (let irq = 0; irq < ISA_IRQ_COUNT; irq++) {
      if (irq === ISA_CASCADE_IRQ) continue;
      const pin = ioApicPinOfIsaIrq(irq);
      this.isaIrq[irq].connect((level) => {
        this.pic.setIrq(irq, level);
        this.ioapic.setPin(pin, level);
      });
    }
  }

  private registerPorts(io: IoBus): void {
    io.register(this.pic.master, PIC_MASTER_BASE, PIC_PORT_COUNT);
    io.register(this.pic.slave, PIC_SLAVE_BASE, PIC_PORT_COUNT);
    io.register(this.pic.elcr, PIC_ELCR_BASE, PIC_ELCR_PORT_COUNT);
    io.register(this.pit, PIT_BASE, PIT_PORT_COUNT);
    io.register(this.pit.portB, PIT_PORT_B, 1);
    io.register(this.rtc, RTC_INDEX_PORT, RTC_PORT_COUNT);
    io.register(this.i8042.dataPort, 0x60, 1);
    io.register(this.i8042.commandPort, 0x64, 1);
    io.register(this.port92, SYSTEM_CONTROL_PORT_A, 1);
    io.register(this.port80, POST_CODE_PORT, 1);
    io.register(this.acpiPm, ACPI_PM_BASE, ACPI_PM_PORT_COUNT);
    io.register(this.fpuError, FPU_ERROR_CLEAR_PORT, 1);
  }

  /** The guest moved the local APIC (IA32_APIC_BASE): move its MMIO window. */
  private relocateLapic(base: number): void {
    if (base === this.lapicBase) return;
    this.mmio.unregister(this.lapic);
    this.mmio.register(this.lapic, base, LAPIC_MMIO_SIZE);
    this.lapicBase = base;
  }

  /**
   * What a PC BIOS leaves behind for an operating system, done here when a kernel is booted
   * without one: the local APIC in virtual-wire mode (LINT0 = ExtINT, LINT1 = NMI) and the
   * SCI's 8259 input level-triggered in the ELCR, as the MADT describes it.
   */
  firmwareSetup(): void {
    this.lapic.configureVirtualWire();
    this.pic.elcr.ioWrite(ACPI_SCI_IRQ >> 3, 1, 1 << (ACPI_SCI_IRQ & 7));
  }

  /** Every component with saved state, in a fixed order. */
  persistables(): Persist[] {
    return [this.pic, this.pit, this.rtc, this.i8042, this.port92, this.port80, this.lapic, this.ioapic, this.acpiPm, this.fpuError];
  }

  /** Power-on state of every device (a system reset). The RTC keeps running, as a battery-backed clock does. */
  reset(): void {
    this.pic.reset();
    this.pit.reset();
    this.i8042.reset();
    this.port92.reset();
    this.port80.reset();
    this.lapic.reset();
    this.ioapic.reset();
    this.acpiPm.reset();
    this.fpuError.reset();
  }
}
