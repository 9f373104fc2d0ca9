/**
 * The PCI side of the PC board, seen by a guest: configuration mechanism #1 finds the
 * i440FX host bridge, the PIIX3 ISA bridge and the configured virtio functions in their
 * slots; before the kernel starts the board has assigned their BARs (I/O from C000h,
 * memory in the PCI window) and routed PIRQs; BAR sizing works from the guest; the
 * firmware tables carry the PCI root bridge.
 */
import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../src/storage/memory-file.js';
import { RawImage } from '../../../src/storage/raw.js';
import { bootGuest, reported } from './platform-guest.js';

/** Guest: for devices 0-4 print id<d>=<vendor/device dword>; size slot 3's BAR0; print PIRQ routes. */
const ENUMERATE = `
CONFIG_ADDRESS equ 0xCF8
CONFIG_DATA    equ 0xCFC
%macro CONFIG_READ 2 ; device, offset -> eax
  mov eax, 0x80000000 | (%1 << 11) | %2
  mov dx, CONFIG_ADDRESS
  out dx, eax
  mov dx, CONFIG_DATA
  in eax, dx
%endmacro
%macro CONFIG_WRITE 3 ; device, offset, value
  mov eax, 0x80000000 | (%1 << 11) | %2
  mov dx, CONFIG_ADDRESS
  out dx, eax
  mov dx, CONFIG_DATA
  mov eax, %3
  out dx, eax
%endmacro
%macro SHOW 1
  PRINT %1
  call put_hex
  call newline
%endmacro
main:
  CONFIG_READ 0, 0
  SHOW "id0=0x"
  CONFIG_READ 1, 0
  SHOW "id1=0x"
  CONFIG_READ 2, 0
  SHOW "id2=0x"
  CONFIG_READ 3, 0
  SHOW "id3=0x"
  CONFIG_READ 4, 0
  SHOW "id4=0x"
  CONFIG_READ 3, 0x10
  SHOW "bar0=0x"
  mov esi, eax
  CONFIG_READ 3, 0x20
  SHOW "bar4=0x"
  CONFIG_READ 3, 0x04
  SHOW "command=0x"
  CONFIG_READ 3, 0x3C
  SHOW "intline=0x"
  CONFIG_READ 1, 0x60
  SHOW "pirq=0x"
  CONFIG_WRITE 3, 0x10, 0xFFFFFFFF
  CONFIG_READ 3, 0x10
  SHOW "bar0size=0x"
  CONFIG_WRITE 3, 0x10, esi
  CONFIG_READ 3, 0x10
  SHOW "bar0back=0x"
  EXIT 0x11
`;

describe('PCI on the PC board', () => {
  it('shows the bridges and the virtio functions with firmware-assigned BARs and PIRQ routes', () => {
    const disk = new RawImage(new MemoryFile('disk.img', new Uint8Array(1 << 20)));
    const g = bootGuest(ENUMERATE, { pci: { console: { onOutput: () => {} }, disks: [{ backend: disk }] } });
    try {
      const stop = g.run();
      expect(stop, g.lines.join('\n')).toEqual({ kind: 'exit', value: 0x11 });
      expect(reported(g.lines, 'id0')).toBe(0x12378086);
      expect(reported(g.lines, 'id1')).toBe(0x70008086);
      expect(reported(g.lines, 'id2'), 'virtio console (transitional) in slot 2').toBe(0x10031af4);
      expect(reported(g.lines, 'id3'), 'virtio-blk (transitional) in slot 3').toBe(0x10011af4);
      expect(reported(g.lines, 'id4'), 'empty slot').toBe(0xffffffff);
      const bar0 = reported(g.lines, 'bar0');
      expect(bar0 & 1, 'BAR0 is an I/O BAR').toBe(1);
      expect(bar0 & ~3).toBeGreaterThanOrEqual(0xc000);
      const bar4 = reported(g.lines, 'bar4');
      expect(bar4 >>> 0).toBeGreaterThanOrEqual(0xe0000000);
      expect(reported(g.lines, 'command') & 3, 'I/O and memory decoding on').toBe(3);
      expect([10, 11]).toContain(reported(g.lines, 'intline') & 0xff);
      expect(reported(g.lines, 'pirq') >>> 0, 'PIRQA-D routed to IRQ 10, 11, 10, 11').toBe(0x0b0a0b0a);
      const size = reported(g.lines, 'bar0size') >>> 0;
      expect(size & 1).toBe(1);
      expect((~(size & ~3) + 1) & 0xffff, 'legacy virtio I/O BAR size').toBeGreaterThanOrEqual(0x20);
      expect(reported(g.lines, 'bar0back')).toBe(bar0);
    } finally {
      g.dispose();
    }
  });

  it('refuses more RAM than fits below the PCI window', async () => {
    const { Host } = await import('../../../src/vmm/host.js');
    const host = new Host({ maxFrames: 64 });
    expect(() => host.createMachine('big', { memoryBytes: 0xe0001000 })).toThrow(/PCI window/);
  });
});
