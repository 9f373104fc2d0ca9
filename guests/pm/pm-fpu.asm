; pm-fpu.asm - the x87 FPU in protected mode, as TAP over COM1.
;
; Covers (Intel SDM vol. 1 chapter 8, vol. 3A 2.5 / 6.15): the FNINIT state (CW, SW, tag
; word); FLD/FSTP m80 round trips of special bit patterns (denormal, infinities, NaNs with
; payloads, an SNaN, the largest finite, -0); arithmetic results compared bit for bit with
; values computed by a real x87 (x87-reference.c, a gcc -m32 program running the same
; instruction sequences; the numbers are in the table below) including precision and rounding control
; and the status word each leaves; FIST rounding modes; FPREM quotient bits; masked
; divide-by-zero and invalid results; FST m64/m32 rounding; masked overflow, underflow and
; denormal-operand results and flags; FXAM classes; FBSTP/FBLD; FRNDINT; FXTRACT;
; FSCALE; FCOMI/FUCOMI flags and FCMOV; FSAVE/FRSTOR round trip
; and the tag word in the image; #NM with CR0.EM and CR0.TS, then CLTS; #MF with CR0.NE=1
; for an unmasked divide by zero, delivered at the next x87 instruction, with FIP/FOP of
; the faulting instruction in FNSTENV.
;
; Exit value 0 when every check passed.

%define GUEST_NAME "pm-fpu: the x87 FPU"
%define ROM_SIZE 0x4000

%include "pm-defs.inc"

CR0_MP          equ 0x02
CR0_EM          equ 0x04
CR0_TS          equ 0x08
CR0_NE          equ 0x20

RESULT          equ SCRATCH             ; 10-byte results
ENV             equ SCRATCH + 0x20      ; 28-byte FNSTENV image
SAVE1           equ SCRATCH + 0x100     ; 108-byte FSAVE images
SAVE2           equ SCRATCH + 0x200
WORD_OUT        equ SCRATCH + 0x40
INT_OUT         equ SCRATCH + 0x44

ENV_CW          equ 0
ENV_SW          equ 4
ENV_TW          equ 8
ENV_FIP         equ 12
ENV_FOP         equ 18                  ; upper half of the FCS dword (11 bits)
SAVE_REGS       equ 28                  ; 8 x 10 bytes in an FSAVE image

%include "pm-boot.inc"

; M80 "label": m80 constant (mantissa qword, sign+exponent word)
%macro M80 2
        dq %1
        dw %2
%endmacro

; CHECK_M80 expected_label, "what": compare the 10 bytes at RESULT with the constant.
%macro CHECK_M80 2
        mov esi, %1
        mov edi, RESULT
        call m80_diff
        CHECK eax, 0, %2
%endmacro

; ROUND_TRIP label, "what": fld m80 / fstp m80 must give the same bytes.
%macro ROUND_TRIP 2
        fninit
        fld tword [%1]
        fstp tword [RESULT]
        CHECK_M80 %1, %2
%endmacro

main:
        call plan_start
        mov eax, cr0
        and eax, ~(CR0_EM | CR0_TS)
        or eax, CR0_NE | CR0_MP
        mov cr0, eax
        call test_init
        call test_round_trips
        call test_arithmetic
        call test_fist
        call test_stores_and_flags
        call test_fxam
        call test_bcd_and_misc
        call test_compare
        call test_fsave
        call test_nm
        call test_mf
        jmp finish

; m80_diff: ESI = expected 10 bytes, EDI = got 10 bytes. EAX = 0 when equal; else 1, after
; printing "# m80 got SSSS:MMMMMMMMMMMMMMMM expected SSSS:MMMMMMMMMMMMMMMM".
m80_diff:
        push ecx
        push esi
        push edi
        mov ecx, 10
        repe cmpsb
        pop edi
        pop esi
        pop ecx
        mov eax, 0
        je .done
        push esi
        mov esi, text_m80_got
        call puts
        pop esi
        push esi
        mov esi, edi
        call put_m80
        mov esi, text_m80_expected
        call puts
        pop esi
        call put_m80
        push esi
        mov esi, text_crlf
        call puts
        pop esi
        mov eax, 1
.done:
        ret

; put_m80: print the m80 at ESI as sign/exponent word, ':', mantissa (hex).
put_m80:
        push eax
        movzx eax, word [esi + 8]
        call put_hex
        mov al, ':'
        call putc
        mov eax, [esi + 4]
        call put_hex
        mov eax, [esi]
        call put_hex
        pop eax
        ret

; ---------------------------------------------------------------------------------------
test_init:
        fninit
        fnstcw [WORD_OUT]
        movzx eax, word [WORD_OUT]
        CHECK eax, 0x037F, "fninit: control word 0x037F"
        fnstsw ax
        movzx eax, ax
        CHECK eax, 0, "fninit: status word 0"
        fnstenv [ENV]
        movzx eax, word [ENV + ENV_TW]
        CHECK eax, 0xFFFF, "fninit: tag word 0xFFFF (all empty)"
        ret

; ---------------------------------------------------------------------------------------
test_round_trips:
        ROUND_TRIP m80_one, "fld/fstp m80 round trip: 1.0"
        ROUND_TRIP m80_denormal, "fld/fstp m80 round trip: smallest denormal"
        ROUND_TRIP m80_minus_inf, "fld/fstp m80 round trip: -infinity"
        ROUND_TRIP m80_qnan, "fld/fstp m80 round trip: QNaN with payload"
        ROUND_TRIP m80_snan, "fld/fstp m80 round trip: SNaN stays an SNaN (no conversion for m80)"
        fnstsw ax
        movzx eax, ax
        CHECK eax, 0, "fld/fstp m80 of an SNaN raises nothing"
        ROUND_TRIP m80_max, "fld/fstp m80 round trip: largest finite"
        ROUND_TRIP m80_minus_zero, "fld/fstp m80 round trip: -0.0"
        ret

; ---------------------------------------------------------------------------------------
; Each case: the x87 sequence, FNSTSW while the result is on the stack, FSTP m80.
test_arithmetic:
        fninit
        fld1
        fild dword [i_three]
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_div13, "1/3 (64-bit precision, round to nearest) bit for bit"
        CHECK [WORD_OUT], 0x3A20, "1/3: status word (TOP=7, C1 rounded up, PE)"

        fninit
        fild dword [i_two]
        fsqrt
        call store_sw_result
        CHECK_M80 x_sqrt2, "fsqrt(2) bit for bit"
        CHECK [WORD_OUT], 0x3820, "fsqrt(2): status word (PE, rounded down)"

        fninit
        fld qword [d_1_1]
        fmul qword [d_3_3]
        call store_sw_result
        CHECK_M80 x_mul, "1.1 * 3.3 (double operands) bit for bit"

        fninit
        fldcw [cw_single]
        fld1
        fild dword [i_three]
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_div13_single, "1/3 with precision control = single bit for bit"

        fninit
        fldcw [cw_down]
        fld1
        fild dword [i_three]
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_div13_down, "1/3 with rounding control = down bit for bit"
        CHECK [WORD_OUT], 0x3820, "1/3 rounded down: status word (C1 clear)"

        fninit
        fild dword [i_three]
        fild dword [i_ten]
        fprem
        call store_sw_result
        fstp st0
        CHECK_M80 m80_one, "fprem: 10 mod 3 = 1"
        CHECK [WORD_OUT], 0x7200, "fprem: quotient 3 in C3/C1, C2=0 (complete)"

        fninit
        fld1
        fld tword [m80_two_pow_minus64]
        faddp st1, st0
        call store_sw_result
        CHECK_M80 m80_one, "1 + 2^-64 rounds to even: 1.0"
        CHECK [WORD_OUT], 0x3820, "1 + 2^-64: PE set"

        fninit
        fld1
        fldz
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_plus_inf, "masked 1/0 gives +infinity"
        CHECK [WORD_OUT], 0x3804, "masked 1/0: ZE in the status word"

        fninit
        fldz
        fldz
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_indefinite, "masked 0/0 gives the real indefinite (negative QNaN)"
        CHECK [WORD_OUT], 0x3801, "masked 0/0: IE in the status word"
        ret

; store_sw_result: FNSTSW into WORD_OUT (zero-extended), then FSTP m80 to RESULT.
store_sw_result:
        fnstsw ax
        movzx eax, ax
        mov [WORD_OUT], eax
        fstp tword [RESULT]
        ret

; ---------------------------------------------------------------------------------------
test_fist:
        fninit
        fld qword [d_2_5]
        fistp dword [INT_OUT]
        CHECK [INT_OUT], 2, "fistp 2.5, round to nearest even: 2"
        fninit
        fldcw [cw_down]
        fld qword [d_minus_2_5]
        fistp dword [INT_OUT]
        CHECK [INT_OUT], -3, "fistp -2.5, round down: -3"
        fninit
        fldcw [cw_up]
        fld qword [d_2_5]
        fistp dword [INT_OUT]
        CHECK [INT_OUT], 3, "fistp 2.5, round up: 3"
        fninit
        fldcw [cw_chop]
        fld qword [d_minus_2_5]
        fistp dword [INT_OUT]
        CHECK [INT_OUT], -2, "fistp -2.5, truncate: -2"
        fninit
        fild dword [i_big]
        fistp qword [INT_OUT]
        CHECK [INT_OUT], 123456789, "fild/fistp qword keeps 123456789"
        ret

; ---------------------------------------------------------------------------------------
test_stores_and_flags:
        fninit
        fld1
        fild dword [i_three]
        fdivp st1, st0
        fst qword [RESULT]
        fstp dword [RESULT + 8]
        fnstsw ax
        movzx eax, ax
        mov [WORD_OUT], eax
        CHECK [RESULT], 0x55555555, "fst m64 of 1/3: low dword 0x55555555"
        CHECK [RESULT + 4], 0x3FD55555, "fst m64 of 1/3: high dword 0x3FD55555"
        CHECK [RESULT + 8], 0x3EAAAAAB, "fstp m32 of 1/3: 0x3EAAAAAB (rounded up)"
        CHECK [WORD_OUT], 0x0220, "after the m32 store: C1 (rounded up) and PE"

        fninit
        fld tword [m80_max]
        fimul dword [i_two]
        call store_sw_result
        CHECK_M80 x_plus_inf, "masked overflow (largest finite * 2) gives +infinity"
        CHECK [WORD_OUT], 0x3A28, "masked overflow: OE, PE and C1 in the status word"

        fninit
        fld tword [m80_min_normal]
        fild dword [i_three]
        fdivp st1, st0
        call store_sw_result
        CHECK_M80 x_underflow, "masked underflow (smallest normal / 3) gives the rounded denormal"
        CHECK [WORD_OUT], 0x3A30, "masked underflow: UE, PE and C1 in the status word"

        fninit
        fld tword [m80_denormal]
        fld1
        faddp st1, st0
        call store_sw_result
        CHECK_M80 m80_one, "denormal + 1 = 1.0"
        CHECK [WORD_OUT], 0x3822, "denormal operand: DE and PE in the status word"
        ret

; ---------------------------------------------------------------------------------------
; FXAM_CASE m80 label or 0 (empty stack), expected C3 C2 C1 C0 bits, "what"
%macro FXAM_CASE 4
        fninit
  %ifnidn %1, empty
        fld tword [%1]
  %endif
        fxam
        fnstsw ax
        movzx eax, ax
        and eax, %3
        CHECK eax, %2, %4
%endmacro

test_fxam:
        FXAM_CASE m80_minus_zero, 0x4200, 0x4700, "fxam -0: zero (C3), negative (C1)"
        FXAM_CASE m80_denormal, 0x4400, 0x4700, "fxam denormal: C3 C2"
        FXAM_CASE m80_qnan, 0x0100, 0x4700, "fxam QNaN: C0"
        FXAM_CASE m80_minus_inf, 0x0700, 0x4700, "fxam -infinity: C2 C0, negative (C1)"
        FXAM_CASE m80_one, 0x0400, 0x4700, "fxam 1.0: normal (C2)"
        FXAM_CASE empty, 0x4100, 0x4500, "fxam on an empty register: C3 C0"
        fninit
        ret

; ---------------------------------------------------------------------------------------
test_bcd_and_misc:
        fninit
        fild dword [i_big]
        fchs
        fbstp tword [RESULT]
        CHECK [RESULT], 0x23456789, "fbstp -123456789: packed BCD digits 23456789"
        CHECK [RESULT + 4], 0x00000001, "fbstp -123456789: next digits 00000001"
        movzx eax, word [RESULT + 8]
        CHECK eax, 0x8000, "fbstp -123456789: sign byte 0x80"
        fbld tword [RESULT]
        fistp dword [INT_OUT]
        CHECK [INT_OUT], -123456789, "fbld of that BCD gives -123456789 back"
        fninit
        fld qword [d_2_5]
        frndint
        fistp dword [INT_OUT]
        CHECK [INT_OUT], 2, "frndint 2.5, round to nearest even: 2"
        fninit
        fldcw [cw_up]
        fld qword [d_minus_2_5]
        frndint
        fistp dword [INT_OUT]
        CHECK [INT_OUT], -2, "frndint -2.5, round up: -2"
        fninit
        fild dword [i_twelve]
        fxtract
        fstp tword [RESULT]
        CHECK_M80 x_one_and_half, "fxtract 12: significand 1.5"
        fstp tword [RESULT]
        CHECK_M80 x_three, "fxtract 12: exponent 3"
        fninit
        fild dword [i_three]
        fld tword [x_one_and_half]
        fscale
        fstp tword [RESULT]
        CHECK_M80 x_twelve, "fscale 1.5 by 3: 12"
        fninit
        ret

; ---------------------------------------------------------------------------------------
test_compare:
        fninit
        fild dword [i_two]
        fld1                            ; st0 = 1, st1 = 2
        fcomi st0, st1
        pushfd
        fcmovb st0, st1                 ; (flags still from fcomi)
        fistp dword [INT_OUT]
        pop eax
        and eax, EFL_ZF | 0x4 | EFL_CF
        CHECK eax, EFL_CF, "fcomi 1 vs 2: CF=1, ZF=PF=0"
        CHECK [INT_OUT], 2, "fcmovb after CF=1 moved st1 into st0"
        fninit
        fild dword [i_two]
        fld1
        fcomi st0, st1
        fcmovnb st0, st1                ; CF=1: no move
        fistp dword [INT_OUT]
        CHECK [INT_OUT], 1, "fcmovnb after CF=1 left st0 alone"
        fninit
        fld tword [m80_qnan]
        fld1
        fucomi st0, st1
        pushfd
        pop eax
        and eax, EFL_ZF | 0x4 | EFL_CF
        CHECK eax, EFL_ZF | 0x4 | EFL_CF, "fucomi with a QNaN: unordered (ZF=PF=CF=1)"
        fnstsw ax
        movzx eax, ax
        and eax, 1
        CHECK eax, 0, "fucomi with a QNaN does not raise IE"
        fninit
        fld tword [m80_qnan]
        fld1
        fcomi st0, st1
        fnstsw ax
        movzx eax, ax
        CHECK eax, 0x3001, "fcomi with a QNaN raises IE (status word 0x3001)"
        fninit
        ret

; ---------------------------------------------------------------------------------------
test_fsave:
        fninit
        fldcw [cw_down]
        fld1                            ; physical register 7: valid
        fldz                            ; 6: zero
        fld tword [m80_minus_inf]       ; 5: special
        fsave [SAVE1]
        fnstcw [WORD_OUT]
        movzx eax, word [WORD_OUT]
        CHECK eax, 0x037F, "fsave reinitializes the FPU (control word 0x037F after it)"
        movzx eax, word [SAVE1 + ENV_TW]
        CHECK eax, 0x1BFF, "fsave image: tag word (reg7 valid, reg6 zero, reg5 special, rest empty)"
        movzx eax, word [SAVE1 + ENV_CW]
        CHECK eax, 0x077F, "fsave image: control word"
        movzx eax, word [SAVE1 + ENV_SW]
        and eax, 0x3800
        CHECK eax, 0x2800, "fsave image: status word TOP=5"
        frstor [SAVE1]
        fsave [SAVE2]
        mov esi, SAVE1 + SAVE_REGS
        mov edi, SAVE2 + SAVE_REGS
        mov ecx, 80
        repe cmpsb
        setne al
        movzx eax, al
        CHECK eax, 0, "frstor then fsave gives back the same 8 registers"
        movzx eax, word [SAVE2 + ENV_TW]
        CHECK eax, 0x1BFF, "frstor then fsave: same tag word"
        frstor [SAVE1]
        fstp tword [RESULT]
        CHECK_M80 m80_minus_inf, "after frstor the top of stack is -infinity again"
        fninit
        ret

; ---------------------------------------------------------------------------------------
test_nm:
        mov eax, cr0
        or eax, CR0_EM
        mov cr0, eax
        TRY .em
        fld1
        END_TRY
.em:
        mov eax, cr0
        and eax, ~CR0_EM
        mov cr0, eax
        CHECK [fault_vec], 7, "x87 instruction with CR0.EM=1: #NM"
        mov eax, cr0
        or eax, CR0_TS
        mov cr0, eax
        TRY .ts
.ts_insn:
        fld1
        END_TRY
.ts:
        CHECK [fault_vec], 7, "x87 instruction with CR0.TS=1: #NM"
        CHECK [fault_eip], .ts_insn, "#NM: saved EIP is the x87 instruction"
        clts
        TRY .clts
        fld1
        fstp st0
        END_TRY
.clts:
        CHECK_NO_FAULT "after clts x87 instructions run"
        ret

; ---------------------------------------------------------------------------------------
test_mf:
        fninit
        fldcw [cw_zm_clear]
        fld1
        fldz
.fdiv_insn:
        fdivp st1, st0                  ; unmasked ZE: pending
        TRY .mf
.next_insn:
        fld1
        END_TRY
.mf:
        fnstenv [ENV]
        fninit
        CHECK [fault_vec], 16, "unmasked divide by zero with CR0.NE=1: #MF"
        CHECK [fault_eip], .next_insn, "#MF arrives at the next x87 instruction (saved EIP)"
        mov eax, [ENV + ENV_SW]
        and eax, 0x80FF
        CHECK eax, 0x8084, "status word at #MF: B, ES and ZE"
        CHECK [ENV + ENV_FIP], .fdiv_insn, "FNSTENV: FIP is the faulting fdivp"
        movzx eax, word [ENV + ENV_FOP]
        and eax, 0x7FF
        CHECK eax, 0x6F9, "FNSTENV: FOP is fdivp st1, st0 (DE F9)"
        ret

; ---------------------------------------------------------------------------------------
; Constants. x_* values were computed by a real x87 running the same sequences (gcc -m32).
        align 4
i_two:          dd 2
i_three:        dd 3
i_ten:          dd 10
i_big:          dd 123456789
i_twelve:       dd 12
d_1_1:          dq 1.1
d_3_3:          dq 3.3
d_2_5:          dq 2.5
d_minus_2_5:    dq -2.5
cw_single:      dw 0x007F
cw_down:        dw 0x077F
cw_up:          dw 0x0B7F
cw_chop:        dw 0x0F7F
cw_zm_clear:    dw 0x037B

m80_one:                M80 0x8000000000000000, 0x3FFF
m80_denormal:           M80 0x0000000000000001, 0x0000
m80_minus_inf:          M80 0x8000000000000000, 0xFFFF
m80_qnan:               M80 0xC000000000001234, 0x7FFF
m80_snan:               M80 0x8000000000000001, 0x7FFF
m80_max:                M80 0xFFFFFFFFFFFFFFFF, 0x7FFE
m80_minus_zero:         M80 0x0000000000000000, 0x8000
m80_two_pow_minus64:    M80 0x8000000000000000, 0x3FBF
x_div13:                M80 0xAAAAAAAAAAAAAAAB, 0x3FFD
x_sqrt2:                M80 0xB504F333F9DE6484, 0x3FFF
x_mul:                  M80 0xE851EB851EB853AE, 0x4000
x_div13_single:         M80 0xAAAAAB0000000000, 0x3FFD
x_div13_down:           M80 0xAAAAAAAAAAAAAAAA, 0x3FFD
x_plus_inf:             M80 0x8000000000000000, 0x7FFF
x_indefinite:           M80 0xC000000000000000, 0xFFFF
m80_min_normal:         M80 0x8000000000000000, 0x0001
x_underflow:            M80 0x2AAAAAAAAAAAAAAB, 0x0000
x_one_and_half:         M80 0xC000000000000000, 0x3FFF
x_three:                M80 0xC000000000000000, 0x4000
x_twelve:               M80 0xC000000000000000, 0x4002

text_m80_got:           db "# m80 got ", 0
text_m80_expected:      db " expected ", 0

%include "pm-lib.inc"
%include "pm-end.inc"
