; hello.asm - the smallest guest: a 4 KiB ROM that greets over COM1 and the 0xE9 debug
; console, then asks the VM to end with exit value 0 through the debug-exit port 0xF4.
;
; Layout: the emulator maps the image so that it ends at guest-physical 1 MiB (and mirrors
; it below 4 GiB). With CS=0xF000 the image occupies offsets 0xF000..0xFFFF, hence the
; `org 0xF000`. The CPU resets at F000:FFF0, which is the last 16 bytes of the image,
; where a far jump leads to `start`.
;
; Pure 16-bit real-mode integer code; there is no BIOS, so no INT calls.

bits 16
cpu 386
org 0xF000

ROM_SIZE        equ 4096
RESET_SLOT_SIZE equ 16

%include "pc.inc"

STACK_SEGMENT   equ 0x0000
STACK_TOP       equ 0x7C00

start:
        cli
        cld
        mov ax, STACK_SEGMENT
        mov ss, ax
        mov sp, STACK_TOP
        mov ax, cs                  ; the message lives in this ROM
        mov ds, ax

        call serial_init
        mov si, message
        call serial_puts
        mov si, message
        call debugcon_puts

        xor al, al                  ; exit value 0: success
        out DEBUG_EXIT_PORT, al
.halt_forever:                      ; only reached if the VM has no debug-exit port
        cli
        hlt
        jmp .halt_forever

%include "serial.inc"

; debugcon_puts: write the NUL-terminated string at DS:SI to port 0xE9. Clobbers AL, SI.
debugcon_puts:
        lodsb
        test al, al
        jz .done
        out DEBUGCON_PORT, al
        jmp debugcon_puts
.done:
        ret

message:
        db "Hello from the hello guest!", 13, 10, 0

; Pad up to the reset slot; the CPU's first instruction is the far jump below.
        times ROM_SIZE - RESET_SLOT_SIZE - ($ - $$) db 0xF4
reset_vector:
        jmp 0xF000:start
        times ROM_SIZE - ($ - $$) db 0xF4
