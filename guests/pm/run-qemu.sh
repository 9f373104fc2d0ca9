#!/bin/sh
# run-qemu.sh IMAGE [extra qemu args...] - run one of our guest ROMs on QEMU (TCG) as the
# reference: QEMU wants a BIOS image whose size is a multiple of 64 KiB, so the ROM is
# padded in front with 0xF4 bytes (it still ends at 1 MiB / 4 GiB, exactly as our
# emulator maps it). COM1 goes to stdout. The exit status is QEMU's: isa-debug-exit makes
# it (value << 1) | 1, so a guest exit value V shows as 2V+1; a triple fault or a
# shutdown with -no-reboot exits with 0. QEMU_ACCEL=kvm selects KVM instead of TCG (in
# our sandbox KVM stops with an internal emulation error at the first IRET to ring 3).
set -eu
image=$1
shift
size=$(stat -c %s "$image")
padded=$(mktemp /tmp/guest-qemu-XXXXXX.bin)
trap 'rm -f "$padded"' EXIT
pad=$(( (65536 - size % 65536) % 65536 ))
{ head -c "$pad" /dev/zero | tr '\0' '\364'; cat "$image"; } > "$padded"
status=0
timeout 60 qemu-system-i386 -machine pc,accel=${QEMU_ACCEL:-tcg} -cpu pentium3 -m 32 -bios "$padded" \
  -device isa-debug-exit,iobase=0xf4,iosize=1 -serial stdio -monitor none -display none \
  -no-reboot "$@" || status=$?
exit $status
