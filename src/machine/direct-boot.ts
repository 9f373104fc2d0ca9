/**
 * Direct kernel boot (what QEMU's -kernel does): recognise the image format, lay it out
 * with the matching loader from src/firmware, and describe the platform to it — the
 * e820 map, the MP tables and the ACPI tables of this board.
 *
 * Platform tables: both. ACPI (RSDP at E0000h, RSDT/XSDT, FADT with the PM block at 600h
 * and SCI on IRQ 9, DSDT with \_S5, the legacy devices and the PCI root bridge with its
 * interrupt routing table, MADT) is what a modern kernel
 * reads: Linux 6.1 built with CONFIG_ACPI prints "ACPI BIOS Error" without an RSDP, and
 * ACPI is how it powers off and finds the PS/2, RTC and serial devices. The MP table
 * (MultiProcessor Spec 1.4, in the EBDA) describes the same CPU, I/O APIC and ISA
 * and ISA interrupt routing, plus the PCI bus and its INTx wiring, for kernels built
 * without ACPI and for Multiboot kernels that parse it. The board then copies the
 * writes into RAM and starts the CPU in the loader's flat 32-bit entry state.
 *
 * Formats, checked in this order:
 * - Linux bzImage: "HdrS" at 0x202 (Linux boot protocol, 32-bit entry);
 * - Multiboot v1: the 0x1BADB002 header in the first 8 KiB.
 * Anything else is refused with an error naming the file.
 */
import { CPUID_FEATURES_EDX, CPUID_SIGNATURE, CpuidEdx } from '../cpu/cpuid.js';
import { BootImageError, type BootImage } from '../firmware/boot-image.js';
import { buildLinuxBoot } from '../firmware/linux-boot.js';
import type { MpPciFunction, MpTableOptions } from '../firmware/mp-table.js';
import { buildMultibootBoot, MULTIBOOT_HEADER_MAGIC, MULTIBOOT_SEARCH_BYTES } from '../firmware/multiboot.js';
import { buildAcpiTables } from '../firmware/acpi/build.js';
import { ACPI_PM_BASE, ACPI_SCI_IRQ, IOAPIC_ID } from './platform.js';

/** A kernel to boot directly, with its ramdisk/module and command line. */
export interface DirectBootConfig {
  readonly name: string;
  readonly data: Uint8Array;
  /** Linux initrd, or the first Multiboot module. */
  readonly initrd?: { readonly name: string; readonly data: Uint8Array };
  readonly cmdline?: string;
}

const LINUX_HEADER_MAGIC_OFFSET = 0x202;
const LINUX_HEADER_MAGIC = 0x53726448; // "HdrS"

/** Which loader understands `data`, or null. */
export function kernelFormat(data: Uint8Array): 'linux' | 'multiboot' | null {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length >= LINUX_HEADER_MAGIC_OFFSET + 4 && view.getUint32(LINUX_HEADER_MAGIC_OFFSET, true) === LINUX_HEADER_MAGIC) return 'linux';
  const limit = Math.min(data.length, MULTIBOOT_SEARCH_BYTES) - 4;
  for (let at = 0; at <= limit; at += 4) {
    if (view.getUint32(at, true) === MULTIBOOT_HEADER_MAGIC) return 'multiboot';
  }
  return null;
}

/** The MP-table description of this board's processor, I/O APIC and PCI interrupts. */
function mpTableOptions(pciFunctions: readonly MpPciFunction[]): MpTableOptions {
  return { cpuSignature: CPUID_SIGNATURE, cpuFeatures: CPUID_FEATURES_EDX | CpuidEdx.APIC, ioApicId: IOAPIC_ID, pciFunctions };
}

/**
 * Lay out `kernel` for a machine with `ramBytes` of RAM whose PCI bus holds `pciFunctions`
 * (slot and INTx pin of each plugged device); throws BootImageError for a bad image.
 */
export function buildDirectBoot(kernel: DirectBootConfig, ramBytes: number, pciFunctions: readonly MpPciFunction[] = []): BootImage {
  const format = kernelFormat(kernel.data);
  const acpi = buildAcpiTables({ memoryBytes: ramBytes, cpuCount: 1, ioApicId: IOAPIC_ID, pmBase: ACPI_PM_BASE, sciIrq: ACPI_SCI_IRQ, pci: true });
  const tables = { mpTable: mpTableOptions(pciFunctions), extraWrites: acpi.writes, reserved: acpi.reservedRegions };
  if (format === 'linux') {
    return buildLinuxBoot({ ramBytes, kernel, initrd: kernel.initrd, cmdline: kernel.cmdline, acpiRsdpAddress: acpi.rsdpAddress, ...tables });
  }
  if (format === 'multiboot') {
    const modules = kernel.initrd ? [{ name: kernel.initrd.name, data: kernel.initrd.data }] : [];
    return buildMultibootBoot({ ramBytes, kernel, modules, cmdline: kernel.cmdline, ...tables });
  }
  throw new BootImageError(kernel.name, 'format', undefined, 'not a Linux bzImage (no "HdrS" at 0x202) and no Multiboot header (0x1BADB002) in the first 8 KiB');
}
