; mb-info.asm - a Multiboot (0.6.96) test kernel that prints what its loader told it.
;
; Built twice by guests/build.mjs (nasm -f bin):
;   -DFORMAT_ELF=1  multiboot/mb-elf.elf   an ELF32 executable whose ELF header and single
;                                          PT_LOAD program header are written out below by
;                                          hand (the build runs nasm -f bin only, and a
;                                          hand-made header assembles to the same bytes on
;                                          every machine, unlike a linker's output); loaded
;                                          at 1 MiB, p_memsz covers the bss
;   (no define)     multiboot/mb-aout.bin  a flat image using the "a.out kludge": header
;                                          flags bit 16 and the address fields; loaded at
;                                          2 MiB
;
; At entry (Multiboot §3.2) EAX holds 0x2BADB002 and EBX the address of the Multiboot
; information structure. The kernel sets up its own stack in its bss, then prints over
; COM1 and the 0xE9 debug console, one item per line:
;
;   mb-info: elf|aout
;   magic=0x2BADB002
;   flags=0x........
;   mem_lower=<KiB> mem_upper=<KiB>               (flags bit 0)
;   cmdline='<string>'                              (flags bit 2)
;   mods_count=<n>                                  (flags bit 3)
;   mod0 start=0x........ end=0x........ string='<string>' bytes=XX XX ...  (first 16 bytes)
;   mmap base=0x................ length=0x................ type=<n>   (flags bit 6, each)
;   loader='<string>'                               (flags bit 9)
;   bss=zero|dirty                                  (the loader zero-fills the bss)
;   done
;
; and writes 0 to the debug-exit port 0xF4 — or, when EAX is not the magic, prints
; "bad magic" and writes 1. A flag that is clear prints "<field>=absent".

%include "pc.inc"

MB_HEADER_MAGIC  equ 0x1BADB002
MB_LOADER_MAGIC  equ 0x2BADB002
MB_PAGE_ALIGN    equ 1 << 0
MB_MEMORY_INFO   equ 1 << 1
MB_AOUT_KLUDGE   equ 1 << 16

MBI_MEMORY       equ 1 << 0
MBI_CMDLINE      equ 1 << 2
MBI_MODS         equ 1 << 3
MBI_MMAP         equ 1 << 6
MBI_LOADER_NAME  equ 1 << 9

BSS_CHECK_BYTES  equ 256
MOD_DUMP_BYTES   equ 16

%ifdef FORMAT_ELF
LOAD_BASE        equ 0x100000
MB_FLAGS         equ MB_PAGE_ALIGN | MB_MEMORY_INFO
%else
LOAD_BASE        equ 0x200000
MB_FLAGS         equ MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE
%endif

        bits 32
        org LOAD_BASE

file_start:
%ifdef FORMAT_ELF
; ELF header (TIS ELF 1.2, figure 1-3): 32-bit, little-endian, executable, i386
        db 0x7F, "ELF", 1, 1, 1, 0      ; magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT, SysV ABI
        times 8 db 0                    ; e_ident padding
        dw 2                            ; e_type: ET_EXEC
        dw 3                            ; e_machine: EM_386
        dd 1                            ; e_version
        dd start                        ; e_entry
        dd program_header - file_start  ; e_phoff
        dd 0                            ; e_shoff: no section headers
        dd 0                            ; e_flags
        dw 52                           ; e_ehsize
        dw 32                           ; e_phentsize
        dw 1                            ; e_phnum
        dw 0, 0, 0                      ; e_shentsize, e_shnum, e_shstrndx
program_header:
        dd 1                            ; p_type: PT_LOAD
        dd 0                            ; p_offset: the whole file ...
        dd LOAD_BASE                    ; p_vaddr
        dd LOAD_BASE                    ; p_paddr: ... at 1 MiB
        dd file_end - file_start        ; p_filesz
        dd bss_end - file_start         ; p_memsz: file + zero-filled bss
        dd 7                            ; p_flags: read, write, execute
        dd 0x1000                       ; p_align
%endif

        align 4
mb_header:
        dd MB_HEADER_MAGIC
        dd MB_FLAGS
        dd -(MB_HEADER_MAGIC + MB_FLAGS)
%ifndef FORMAT_ELF
        dd mb_header                    ; header_addr
        dd file_start                   ; load_addr
        dd file_end                     ; load_end_addr
        dd bss_end                      ; bss_end_addr
        dd start                        ; entry_addr
%endif

; ---------------------------------------------------------------------------------------
start:
        mov esp, stack_top
        mov [saved_magic], eax
        mov [saved_mbi], ebx
        call serial_init32
        mov esi, text_banner
        call puts
        mov esi, text_magic
        call puts
        mov eax, [saved_magic]
        call put_hex
        call crlf
        cmp dword [saved_magic], MB_LOADER_MAGIC
        jne bad_magic

        mov ebx, [saved_mbi]
        mov esi, text_flags
        call puts
        mov eax, [ebx]
        call put_hex
        call crlf

        call print_memory
        call print_cmdline
        call print_modules
        call print_mmap
        call print_loader_name
        call print_bss

        mov esi, text_done
        call puts
        xor eax, eax
        jmp exit_with

bad_magic:
        mov esi, text_bad_magic
        call puts
        mov eax, 1
exit_with:
        out DEBUG_EXIT_PORT, al
.stop:
        cli
        hlt
        jmp .stop

; ---------------------------------------------------------------------------------------
; The fields (EBX = information structure; each routine preserves EBX)

; print_absent: "<ESI>absent" and CR LF, for a field whose flag is clear.
print_absent:
        call puts
        mov esi, text_absent
        call puts
        ret

print_memory:
        mov esi, text_mem_lower
        test dword [ebx], MBI_MEMORY
        jz print_absent
        call puts
        mov eax, [ebx + 4]
        call put_dec
        mov esi, text_mem_upper
        call puts
        mov eax, [ebx + 8]
        call put_dec
        jmp crlf

print_cmdline:
        mov esi, text_cmdline
        test dword [ebx], MBI_CMDLINE
        jz print_absent
        call puts
        mov esi, [ebx + 16]
        jmp put_quoted_line

print_modules:
        mov esi, text_mods_count
        test dword [ebx], MBI_MODS
        jz print_absent
        call puts
        mov eax, [ebx + 20]
        call put_dec
        call crlf
        cmp dword [ebx + 20], 0
        je .done
        mov edi, [ebx + 24]             ; first module entry
        mov esi, text_mod0_start
        call puts
        mov eax, [edi]
        call put_hex
        mov esi, text_end
        call puts
        mov eax, [edi + 4]
        call put_hex
        mov esi, text_string
        call puts
        mov esi, [edi + 8]
        call puts
        mov esi, text_quote_bytes
        call puts
        mov esi, [edi]                  ; dump min(16, end - start) bytes
        mov ecx, [edi + 4]
        sub ecx, esi
        cmp ecx, MOD_DUMP_BYTES
        jbe .dump
        mov ecx, MOD_DUMP_BYTES
.dump:
        jecxz .dumped
.byte:
        mov al, [esi]
        call put_hex_byte
        inc esi
        dec ecx
        jz .dumped
        mov al, ' '
        call putc
        jmp .byte
.dumped:
        call crlf
.done:
        ret

print_mmap:
        mov esi, text_mmap
        test dword [ebx], MBI_MMAP
        jz print_absent
        mov edi, [ebx + 48]             ; first entry (its size field)
        mov edx, edi
        add edx, [ebx + 44]             ; end of the buffer
.entry:
        cmp edi, edx
        jae .done
        mov esi, text_mmap_base
        call puts
        mov eax, [edi + 8]
        call put_hex
        mov eax, [edi + 4]
        call put_hex_digits
        mov esi, text_mmap_length
        call puts
        mov eax, [edi + 16]
        call put_hex_digits
        mov eax, [edi + 12]
        call put_hex_digits
        mov esi, text_mmap_type
        call puts
        mov eax, [edi + 20]
        call put_dec
        call crlf
        add edi, [edi]                  ; the size field does not count itself
        add edi, 4
        jmp .entry
.done:
        ret

print_loader_name:
        mov esi, text_loader
        test dword [ebx], MBI_LOADER_NAME
        jz print_absent
        call puts
        mov esi, [ebx + 64]
        jmp put_quoted_line

print_bss:
        mov esi, bss_check
        mov ecx, BSS_CHECK_BYTES
.scan:
        cmp byte [esi], 0
        jne .dirty
        inc esi
        loop .scan
        mov esi, text_bss_zero
        jmp puts
.dirty:
        mov esi, text_bss_dirty
        jmp puts

; ---------------------------------------------------------------------------------------
; Output: every byte goes to COM1 and to the 0xE9 debug console.

%define PUTC_ALSO_DEBUGCON
%include "com1-32.inc"

; put_quoted_line: the string at ESI, a closing quote and CR LF.
put_quoted_line:
        call puts
        mov al, "'"
        call putc
        jmp crlf

; ---------------------------------------------------------------------------------------
%ifdef FORMAT_ELF
text_banner:      db "mb-info: elf", 13, 10, 0
%else
text_banner:      db "mb-info: aout", 13, 10, 0
%endif
text_magic:       db "magic=", 0
text_bad_magic:   db "bad magic", 13, 10, 0
text_flags:       db "flags=", 0
text_absent:      db "absent", 13, 10, 0
text_mem_lower:   db "mem_lower=", 0
text_mem_upper:   db " mem_upper=", 0
text_cmdline:     db "cmdline='", 0
text_mods_count:  db "mods_count=", 0
text_mod0_start:  db "mod0 start=", 0
text_end:         db " end=", 0
text_string:      db " string='", 0
text_quote_bytes: db "' bytes=", 0
text_mmap:        db "mmap=", 0
text_mmap_base:   db "mmap base=", 0
text_mmap_length: db " length=0x", 0
text_mmap_type:   db " type=", 0
text_loader:      db "loader='", 0
text_bss_zero:    db "bss=zero", 13, 10, 0
text_bss_dirty:   db "bss=dirty", 13, 10, 0
text_done:        db "done", 13, 10, 0

        align 4
file_end:

; ---------------------------------------------------------------------------------------
; bss: zero-filled by the loader, not in the file
        absolute file_end
saved_magic:      resd 1
saved_mbi:        resd 1
bss_check:        resb BSS_CHECK_BYTES
                  resb 4096
stack_top:
bss_end:
