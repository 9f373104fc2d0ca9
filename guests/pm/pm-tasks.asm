; pm-tasks.asm - hardware task switching, as TAP over COM1.
;
; Covers (Intel SDM vol. 3A chapter 7): JMP to a 32-bit TSS descriptor (register image
; loaded from the new TSS and saved into the old one, CR3 (paging is on throughout) and
; LDTR loaded, busy bits moved, NT clear, CR0.TS set) and JMP back; CALL to a TSS (NT set, back link, both busy) and IRET back (busy bit
; and NT of the departing task cleared); a task gate in the IDT for INT n; a task gate
; for #DF raised while delivering a ring-3 #GP whose TSS.SS0 is not present (the outgoing
; TSS holds the interrupted ring-3 state); CALL to a 16-bit TSS running 16-bit code and
; IRET back; #GP on JMP/CALL to a busy TSS, #TS on IRET to a TSS that is not busy, #NP on
; a not-present TSS.
;
; Exit value 0 when every check passed.

%define GUEST_NAME "pm-tasks: hardware task switches"
%define ROM_SIZE 0x4000

%include "pm-defs.inc"

SEL_TASK_A      equ 0x30
SEL_TASK_B      equ 0x38
SEL_TASK16      equ 0x40
SEL_DF_TSS      equ 0x48
SEL_TASK_G      equ 0x50
SEL_NPDATA      equ 0x58                ; data, not present (a bad SS0)
SEL_CODE16      equ 0x60                ; 16-bit code, base 0xF0000
SEL_DATA16      equ 0x68                ; 16-bit data, base 0, limit 1 MiB
SEL_NPTSS       equ 0x70                ; 32-bit TSS, not present
SEL_LDT         equ 0x78                ; an (empty) LDT for task A
LDT_BASE        equ 0x30500
PT_IDENT        equ 0x40000             ; one identity page table for 0..4 MiB
PD_MAIN         equ 0x41000             ; two page directories mapping it alike:
PD_TASK_A       equ 0x42000             ; CR3 of the first task and of task A

TSS_A           equ 0x30000
TSS_B           equ 0x30100
TSS_C           equ 0x30200             ; the 16-bit one
TSS_DF          equ 0x30300
TSS_G           equ 0x30400
STACK_A         equ 0x31000
STACK_B         equ 0x31800
STACK_G         equ 0x32000
STACK_DF        equ 0x32800
STACK_16        equ 0x6F00

%macro GUEST_GDT 0
        DESC TSS_A, 0x67, ACC_TSS32, 0                  ; SEL_TASK_A
        DESC TSS_B, 0x67, ACC_TSS32, 0                  ; SEL_TASK_B
        DESC TSS_C, 0x2B, ACC_TSS16, 0                  ; SEL_TASK16
        DESC TSS_DF, 0x67, ACC_TSS32, 0                 ; SEL_DF_TSS
        DESC TSS_G, 0x67, ACC_TSS32, 0                  ; SEL_TASK_G
        DESC 0, 0xFFFFF, 0x13, FLG_4K_32                ; SEL_NPDATA (P=0)
        DESC REAL_CS_BASE, 0xFFFF, ACC_CODE0, FLG_BYTE_16 ; SEL_CODE16
        DESC 0, 0xFFFFF, ACC_DATA0, FLG_BYTE_16         ; SEL_DATA16
        DESC TSS_A, 0x67, 0x09, 0                       ; SEL_NPTSS (P=0)
        DESC LDT_BASE, 0x0F, 0x82, 0                    ; SEL_LDT
%endmacro

; 32-bit TSS fields (SDM figure 7-2)
TSS_LINK        equ 0x00
TSS_ESP0_F      equ 0x04
TSS_SS0_F       equ 0x08
TSS_CR3         equ 0x1C
TSS_EIP         equ 0x20
TSS_EFLAGS      equ 0x24
TSS_EAX         equ 0x28
TSS_ECX         equ 0x2C
TSS_EDX         equ 0x30
TSS_EBX         equ 0x34
TSS_ESP         equ 0x38
TSS_EBP         equ 0x3C
TSS_ESI         equ 0x40
TSS_EDI         equ 0x44
TSS_ES          equ 0x48
TSS_CS          equ 0x4C
TSS_SS          equ 0x50
TSS_DS          equ 0x54
TSS_FS          equ 0x58
TSS_GS          equ 0x5C
TSS_LDT         equ 0x60
TSS_IOBASE      equ 0x66
; 16-bit TSS fields (SDM figure 7-11)
TSS16_IP        equ 14
TSS16_FLAGS     equ 16
TSS16_AX        equ 18
TSS16_SP        equ 26
TSS16_ES        equ 34
TSS16_CS        equ 36
TSS16_SS        equ 38
TSS16_DS        equ 40

CR0_TS          equ 0x08

; Records written by the tasks
A_EAX           equ u_var(0)
A_EBP           equ u_var(1)
A_EFL           equ u_var(2)
A_TR            equ u_var(3)
A_ESP           equ u_var(4)
A_CR0           equ u_var(5)
A_TYPE_A        equ u_var(6)
A_TYPE_MAIN     equ u_var(7)
B_EFL           equ u_var(8)
B_LINK          equ u_var(9)
B_TR            equ u_var(10)
B_TYPE_B        equ u_var(11)
B_TYPE_MAIN     equ u_var(12)
G_TR            equ u_var(13)
G_LINK          equ u_var(14)
G_EFL           equ u_var(15)
DF_ERR          equ u_var(16)
DF_ESP          equ u_var(17)
DF_TR           equ u_var(18)
DF_LINK         equ u_var(19)
DF_SAVED_EIP    equ u_var(20)
DF_SAVED_CS     equ u_var(21)
T16_AX          equ u_var(22)
T16_TR          equ u_var(23)
T16_FLAGS       equ u_var(24)
T16_TYPE        equ u_var(25)
M_ESP           equ u_var(26)
M_EBX           equ u_var(27)
M_FS            equ u_var(28)
M_EFL           equ u_var(29)
A_LDTR          equ u_var(30)
A_CR3           equ u_var(31)

%include "pm-boot.inc"

; DESC_TYPE reg, selector: reg = the type field (bits 8..11 of the second dword).
%macro DESC_TYPE 2
        mov %1, [GDT_BASE + (%2) + 4]
        shr %1, 8
        and %1, 0xF
%endmacro

main:
        call plan_start
        call setup_tasks
        call test_jmp
        call test_call_iret
        call test_busy_invalid
        call test_task_gate_int
        call test_task_gate_df
        call test_tss16
        jmp finish

; setup_tasks: identity paging (so that task switches load CR3), the TSS images of tasks
; A, B, G and DF (ring 0, flat, own stacks) and of the 16-bit task.
setup_tasks:
        call enable_paging
        mov edi, TSS_A
        mov eax, task_a
        mov ebx, STACK_A
        call init_tss32
        mov dword [TSS_A + TSS_EFLAGS], EFL_RESERVED1 | EFL_CF
        mov dword [TSS_A + TSS_EAX], 0x11111111
        mov dword [TSS_A + TSS_EBP], 0x77777777
        mov dword [TSS_A + TSS_CR3], PD_TASK_A
        mov dword [TSS_A + TSS_LDT], SEL_LDT
        mov edi, TSS_B
        mov eax, task_b
        mov ebx, STACK_B
        call init_tss32
        mov edi, TSS_G
        mov eax, task_g
        mov ebx, STACK_G
        call init_tss32
        mov edi, TSS_DF
        mov eax, task_df
        mov ebx, STACK_DF
        call init_tss32
        mov edi, TSS_C                  ; 16-bit TSS: 44 bytes
        mov ecx, 11
        xor eax, eax
        rep stosd
        mov word [TSS_C + TSS16_IP], task16 - REAL_CS_BASE
        mov word [TSS_C + TSS16_FLAGS], EFL_RESERVED1
        mov word [TSS_C + TSS16_AX], 0x1616
        mov word [TSS_C + TSS16_SP], STACK_16
        mov word [TSS_C + TSS16_CS], SEL_CODE16
        mov word [TSS_C + TSS16_SS], SEL_DATA16
        mov word [TSS_C + TSS16_DS], SEL_DATA16
        mov word [TSS_C + TSS16_ES], SEL_DATA16
        ret

; enable_paging: PT_IDENT maps 0..4 MiB onto itself (user, writable); PD_MAIN and
; PD_TASK_A both use it; CR3 = PD_MAIN, also in the first task's TSS; CR0.PG.
enable_paging:
        mov edi, PT_IDENT
        mov eax, 0x7
        mov ecx, 1024
.pte:
        stosd
        add eax, 0x1000
        loop .pte
        mov edi, PD_MAIN
        mov ecx, 2048
        xor eax, eax
        rep stosd
        mov dword [PD_MAIN], PT_IDENT | 0x7
        mov dword [PD_TASK_A], PT_IDENT | 0x7
        mov eax, PD_MAIN
        mov cr3, eax
        mov [TSS_BASE + TSS_CR3], eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .paged
.paged:
        ret

; init_tss32: EDI = TSS, EAX = EIP, EBX = ESP: a ring-0 flat task with IF=0, this CR3,
; no I/O bitmap.
init_tss32:
        push eax
        push edi
        mov ecx, 0x68 / 4
        xor eax, eax
        rep stosd
        pop edi
        pop eax
        mov [edi + TSS_EIP], eax
        mov [edi + TSS_ESP], ebx
        mov dword [edi + TSS_EFLAGS], EFL_RESERVED1
        mov eax, cr3
        mov [edi + TSS_CR3], eax
        mov dword [edi + TSS_CS], SEL_KCODE
        mov eax, SEL_KDATA
        mov [edi + TSS_SS], eax
        mov [edi + TSS_DS], eax
        mov [edi + TSS_ES], eax
        mov [edi + TSS_FS], eax
        mov [edi + TSS_GS], eax
        mov dword [edi + TSS_SS0_F], SEL_KDATA
        mov [edi + TSS_ESP0_F], ebx
        mov word [edi + TSS_IOBASE], 0x68
        ret

; ---------------------------------------------------------------------------------------
test_jmp:
        TRY .back
        mov ax, SEL_UDATA
        mov fs, ax                      ; a distinctive FS to find in the saved image
        mov eax, 0xA0A0A0A0
        mov ebx, 0xB0B0B0B0
        mov esi, 0x50505050
        mov edi, 0xD0D0D0D0
        mov ebp, 0xBEBEBEBE
        mov [M_ESP], esp
        push dword EFL_RESERVED1 | 0x81 ; CF and SF: a distinctive EFLAGS
        popfd
        jmp SEL_TASK_A:0
.after_jmp:
        mov [ss:M_EBX], ebx
        xor eax, eax
        mov ax, fs
        mov [ss:M_FS], eax
        END_TRY
.back:
        CHECK [A_EAX], 0x11111111, "jmp to a TSS: the new task starts with EAX from its TSS"
        CHECK [A_EBP], 0x77777777, "jmp to a TSS: EBP from its TSS"
        CHECK [A_ESP], STACK_A, "jmp to a TSS: ESP from its TSS"
        mov eax, [A_EFL]
        and eax, EFL_CF | EFL_NT
        CHECK eax, EFL_CF, "jmp to a TSS: EFLAGS from its TSS (CF=1), NT clear"
        CHECK [A_TR], SEL_TASK_A, "jmp to a TSS: TR is the new TSS selector"
        CHECK [A_CR3], PD_TASK_A, "jmp to a TSS (paging on): CR3 loaded from the new TSS"
        CHECK [A_LDTR], SEL_LDT, "jmp to a TSS: LDTR loaded from the new TSS"
        mov eax, [A_CR0]
        and eax, CR0_TS
        CHECK eax, CR0_TS, "a task switch sets CR0.TS"
        CHECK [A_TYPE_A], 0xB, "jmp to a TSS: the new TSS descriptor is busy"
        CHECK [A_TYPE_MAIN], 0x9, "jmp to a TSS: the old TSS descriptor is no longer busy"
        CHECK [TSS_BASE + TSS_EIP], .after_jmp, "outgoing TSS: EIP is the instruction after the jmp"
        CHECK [TSS_BASE + TSS_EFLAGS], EFL_RESERVED1 | 0x81, "outgoing TSS: EFLAGS"
        CHECK [TSS_BASE + TSS_EAX], 0xA0A0A0A0, "outgoing TSS: EAX"
        CHECK [TSS_BASE + TSS_EBX], 0xB0B0B0B0, "outgoing TSS: EBX"
        CHECK [TSS_BASE + TSS_ESI], 0x50505050, "outgoing TSS: ESI"
        CHECK [TSS_BASE + TSS_EDI], 0xD0D0D0D0, "outgoing TSS: EDI"
        CHECK [TSS_BASE + TSS_EBP], 0xBEBEBEBE, "outgoing TSS: EBP"
        CHECK [TSS_BASE + TSS_ESP], [M_ESP], "outgoing TSS: ESP"
        CHECK [TSS_BASE + TSS_CS], SEL_KCODE, "outgoing TSS: CS"
        CHECK [TSS_BASE + TSS_SS], SEL_KDATA, "outgoing TSS: SS"
        CHECK [TSS_BASE + TSS_FS], SEL_UDATA, "outgoing TSS: FS"
        CHECK [TSS_A + TSS_EIP], task_a.after_back, "task A's TSS: EIP after its jmp back"
        CHECK [TSS_A + TSS_EAX], 0xA1A1A1A1, "task A's TSS: EAX as task A left it"
        CHECK [M_EBX], 0xB0B0B0B0, "jmp back: the first task resumes with its saved EBX"
        CHECK [M_FS], SEL_UDATA, "jmp back: the first task resumes with its saved FS"
        DESC_TYPE eax, SEL_TSS
        CHECK eax, 0xB, "jmp back: the first task's TSS is busy again"
        DESC_TYPE eax, SEL_TASK_A
        CHECK eax, 0x9, "jmp back: task A's TSS is available again"
        mov eax, cr3
        CHECK eax, PD_MAIN, "jmp back: CR3 from the first task's TSS"
        xor eax, eax
        sldt ax
        CHECK eax, 0, "jmp back: LDTR from the first task's TSS (null)"
        ret

task_a:
        mov [A_EAX], eax
        mov [A_EBP], ebp
        mov [A_ESP], esp
        pushfd
        pop dword [A_EFL]
        xor eax, eax
        str ax
        mov [A_TR], eax
        mov eax, cr0
        mov [A_CR0], eax
        mov eax, cr3
        mov [A_CR3], eax
        xor eax, eax
        sldt ax
        mov [A_LDTR], eax
        DESC_TYPE eax, SEL_TASK_A
        mov [A_TYPE_A], eax
        DESC_TYPE eax, SEL_TSS
        mov [A_TYPE_MAIN], eax
        clts
        mov eax, 0xA1A1A1A1
        jmp SEL_TSS:0
.after_back:
        jmp task_a

; ---------------------------------------------------------------------------------------
test_call_iret:
        TRY .back
        call SEL_TASK_B:0
.after_call:
        pushfd
        pop dword [ss:M_EFL]
        END_TRY
.back:
        mov eax, [B_EFL]
        and eax, EFL_NT
        CHECK eax, EFL_NT, "call to a TSS: the new task runs with NT set"
        CHECK [B_LINK], SEL_TSS, "call to a TSS: the back link is the caller's TSS"
        CHECK [B_TR], SEL_TASK_B, "call to a TSS: TR is the new TSS selector"
        CHECK [B_TYPE_B], 0xB, "call to a TSS: the new TSS is busy"
        CHECK [B_TYPE_MAIN], 0xB, "call to a TSS: the caller's TSS stays busy"
        CHECK [TSS_BASE + TSS_EIP], .after_call, "call to a TSS: the caller's saved EIP follows the call"
        DESC_TYPE eax, SEL_TASK_B
        CHECK eax, 0x9, "iret to the caller: the returning task's TSS is available again"
        DESC_TYPE eax, SEL_TSS
        CHECK eax, 0xB, "iret to the caller: the caller's TSS is still busy"
        mov eax, [TSS_B + TSS_EFLAGS]
        and eax, EFL_NT
        CHECK eax, 0, "iret to the caller: NT is cleared in the returning task's saved EFLAGS"
        mov eax, [M_EFL]
        and eax, EFL_NT
        CHECK eax, 0, "the caller resumes with its own EFLAGS (NT clear)"
        ret

task_b:
        pushfd
        pop dword [B_EFL]
        movzx eax, word [TSS_B + TSS_LINK]
        mov [B_LINK], eax
        xor eax, eax
        str ax
        mov [B_TR], eax
        DESC_TYPE eax, SEL_TASK_B
        mov [B_TYPE_B], eax
        DESC_TYPE eax, SEL_TSS
        mov [B_TYPE_MAIN], eax
        clts
        iretd
        jmp task_b

; ---------------------------------------------------------------------------------------
test_busy_invalid:
        TRY .call_busy
        call SEL_TSS:0
        END_TRY
.call_busy:
        CHECK_FAULT 13, SEL_TSS, "call to a busy TSS (the current task): #GP(selector)"
        TRY .jmp_busy
        jmp SEL_TSS:0
        END_TRY
.jmp_busy:
        CHECK_FAULT 13, SEL_TSS, "jmp to a busy TSS: #GP(selector)"
        mov word [TSS_BASE + TSS_LINK], SEL_TASK_A
        TRY .iret_free
        pushfd
        or dword [esp], EFL_NT
        popfd
        iretd
        END_TRY
.iret_free:
        mov word [TSS_BASE + TSS_LINK], 0
        CHECK_FAULT 10, SEL_TASK_A, "iret (NT=1) to a back link whose TSS is not busy: #TS(selector)"
        TRY .np
        jmp SEL_NPTSS:0
        END_TRY
.np:
        CHECK_FAULT 11, SEL_NPTSS, "jmp to a not-present TSS: #NP(selector)"
        ret

; ---------------------------------------------------------------------------------------
VEC_TASK        equ 0x60

test_task_gate_int:
        mov edi, IDT_BASE + 8 * VEC_TASK
        mov dword [edi], SEL_TASK_G << 16
        mov dword [edi + 4], GATE_TASK << 8
        TRY .back
        int VEC_TASK
.after_int:
        END_TRY
.back:
        CHECK [G_TR], SEL_TASK_G, "int n through a task gate switches to the gate's TSS"
        CHECK [G_LINK], SEL_TSS, "task gate: the back link is the interrupted task's TSS"
        mov eax, [G_EFL]
        and eax, EFL_NT
        CHECK eax, EFL_NT, "task gate: the new task runs with NT set"
        CHECK [TSS_BASE + TSS_EIP], .after_int, "task gate for int n: the saved EIP follows the int"
        ret

task_g:
        xor eax, eax
        str ax
        mov [G_TR], eax
        movzx eax, word [TSS_G + TSS_LINK]
        mov [G_LINK], eax
        pushfd
        pop dword [G_EFL]
        clts
        iretd
        jmp task_g

; ---------------------------------------------------------------------------------------
; A ring-3 HLT raises #GP; delivering it needs TSS.SS0, which is not present (#SS):
; contributory + contributory = #DF, whose IDT entry is a task gate. The #DF task reads the
; interrupted state from the first task's TSS, then rewrites that image so that IRET
; (task return) resumes the TRY at ring 0.
test_task_gate_df:
        mov edi, IDT_BASE + 8 * 8
        mov dword [edi], SEL_DF_TSS << 16
        mov dword [edi + 4], GATE_TASK << 8
        mov dword [TSS_BASE + TSS_SS0_F], SEL_NPDATA
        TRY .back
        RING3 r3_hlt
.back:
        mov dword [TSS_BASE + TSS_SS0_F], SEL_KDATA
        CHECK [fault_vec], 8, "#DF (ring-3 #GP with a not-present SS0) is delivered through its task gate"
        CHECK [DF_TR], SEL_DF_TSS, "#DF task gate: TR is the #DF TSS"
        CHECK [DF_LINK], SEL_TSS, "#DF task gate: back link is the interrupted task"
        CHECK [DF_ERR], 0, "#DF task gate: error code 0 pushed on the new task's stack"
        CHECK [DF_ESP], STACK_DF - 4, "#DF task gate: the error code is the only thing on that stack"
        CHECK [DF_SAVED_CS], SEL_UCODE, "the outgoing TSS holds the interrupted ring-3 CS"
        CHECK [DF_SAVED_EIP], r3_hlt, "the outgoing TSS holds the EIP of the faulting ring-3 instruction"
        ret

task_df:
        mov [DF_ESP], esp
        mov eax, [esp]
        mov [DF_ERR], eax
        xor eax, eax
        str ax
        mov [DF_TR], eax
        movzx eax, word [TSS_DF + TSS_LINK]
        mov [DF_LINK], eax
        mov eax, [TSS_BASE + TSS_EIP]
        mov [DF_SAVED_EIP], eax
        movzx eax, word [TSS_BASE + TSS_CS]
        mov [DF_SAVED_CS], eax
        mov eax, [try_resume]           ; make the interrupted task resume the TRY
        mov [TSS_BASE + TSS_EIP], eax
        mov eax, [try_esp]
        mov [TSS_BASE + TSS_ESP], eax
        mov dword [TSS_BASE + TSS_EFLAGS], EFL_RESERVED1
        mov dword [TSS_BASE + TSS_CS], SEL_KCODE
        mov eax, SEL_KDATA
        mov [TSS_BASE + TSS_SS], eax
        mov [TSS_BASE + TSS_DS], eax
        mov [TSS_BASE + TSS_ES], eax
        mov [TSS_BASE + TSS_FS], eax
        mov [TSS_BASE + TSS_GS], eax
        mov dword [try_resume], 0
        mov dword [fault_vec], 8
        clts
        add esp, 4                      ; drop the error code
        iretd
        jmp task_df

; ---------------------------------------------------------------------------------------
test_tss16:
        TRY .back
        call SEL_TASK16:0
        END_TRY
.back:
        CHECK [T16_AX], 0x1616, "call to a 16-bit TSS: AX loaded from it"
        CHECK [T16_TR], SEL_TASK16, "call to a 16-bit TSS: TR is its selector"
        mov eax, [T16_FLAGS]
        and eax, EFL_NT
        CHECK eax, EFL_NT, "call to a 16-bit TSS: NT set in the new task"
        CHECK [T16_TYPE], 0x3, "call to a 16-bit TSS: its descriptor is a busy 16-bit TSS"
        movzx eax, word [TSS_C]
        CHECK eax, SEL_TSS, "16-bit TSS: back link is the caller's TSS"
        movzx eax, word [TSS_C + TSS16_AX]
        CHECK eax, 0x5A5A, "iret from the 16-bit task: its AX saved in its TSS"
        movzx eax, word [TSS_C + TSS16_IP]
        CHECK eax, task16.after_iret - REAL_CS_BASE, "iret from the 16-bit task: IP after the iret saved in its TSS"
        DESC_TYPE eax, SEL_TASK16
        CHECK eax, 0x1, "iret from the 16-bit task: its descriptor is an available 16-bit TSS again"
        ret

        bits 16
task16:
        mov [T16_AX], ax
        pushf
        pop word [T16_FLAGS]
        str word [T16_TR]
        mov eax, [dword GDT_BASE + SEL_TASK16 + 4]
        shr eax, 8
        and ax, 0xF
        mov [T16_TYPE], ax
        clts
        mov ax, 0x5A5A
        iret
.after_iret:
        jmp task16
        bits 32

; =======================================================================================
r3_hlt:
        hlt
        int VEC_BACK

%include "pm-lib.inc"
%include "pm-end.inc"
