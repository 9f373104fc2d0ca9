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

COM1_BASE       equ 0x3F8           ; 16550 UART registers, offsets from the base below
UART_THR        equ 0               ; transmit holding register (DLAB=0)
UART_DLL        equ 0               ; divisor latch low (DLAB=1)
UART_DLM        equ 1               ; divisor latch high (DLAB=1)
UART_FCR        equ 2               ; FIFO control
UART_LCR        equ 3               ; line control
UART_MCR        equ 4               ; modem control
UART_LSR        equ 5               ; line status
LCR_DLAB        equ 0x80            ; divisor latch access bit
LCR_8N1         equ 0x03            ; 8 data bits, no parity, 1 stop bit
FCR_ENABLE_CLEAR equ 0x07           ; enable FIFOs, clear receive and transmit FIFOs
MCR_DTR_RTS_OUT2 equ 0x0B           ; DTR, RTS and OUT2 (interrupt gate) asserted
LSR_THRE        equ 0x20            ; transmit holding register empty

DEBUGCON_PORT   equ 0xE9            ; Bochs/QEMU style debug console
DEBUG_EXIT_PORT equ 0xF4            ; isa-debug-exit style port: the value written ends the VM

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

; serial_init: program COM1 for 8N1 at divisor 1 (115200 baud) with FIFOs on.
; Clobbers AL, DX.
serial_init:
        mov dx, COM1_BASE + UART_LCR
        mov al, LCR_DLAB
        out dx, al
        mov dx, COM1_BASE + UART_DLL
        mov al, 1
        out dx, al
        mov dx, COM1_BASE + UART_DLM
        xor al, al
        out dx, al
        mov dx, COM1_BASE + UART_LCR
        mov al, LCR_8N1
        out dx, al
        mov dx, COM1_BASE + UART_FCR
        mov al, FCR_ENABLE_CLEAR
        out dx, al
        mov dx, COM1_BASE + UART_MCR
        mov al, MCR_DTR_RTS_OUT2
        out dx, al
        ret

; serial_putc: send AL over COM1 once the transmitter can take it. Clobbers DX.
serial_putc:
        push ax
        mov dx, COM1_BASE + UART_LSR
.wait_thre:
        in al, dx
        test al, LSR_THRE
        jz .wait_thre
        pop ax
        mov dx, COM1_BASE + UART_THR
        out dx, al
        ret

; serial_puts: send the NUL-terminated string at DS:SI over COM1. Clobbers AL, DX, SI.
serial_puts:
        lodsb
        test al, al
        jz .done
        call serial_putc
        jmp serial_puts
.done:
        ret

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
