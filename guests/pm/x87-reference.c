/*
 * x87-reference.c - prints the reference values pm-fpu.asm and pm-exceptions.asm compare
 * against, computed by the host's real x87 running the same instruction sequences.
 *
 *   gcc -m32 -O0 guests/pm/x87-reference.c -o /tmp/x87-reference && /tmp/x87-reference
 *
 * Each line names a case, then the 80-bit result (mantissa, sign+exponent) and the status
 * word read with FNSTSW while the result was still on the stack, or the integers/flags the
 * case produces. The last lines check where a pending unmasked x87 exception is
 * delivered (#MF at the next waiting x87 instruction, FIP at the faulting one), that
 * ICEBP (0xF1) is a #DB trap and that a misaligned access at CPL 3 with EFLAGS.AC raises
 * #AC (Linux runs with CR0.AM=1), using the signals Linux turns them into.
 *
 * Syntax note: GNU as swaps the meaning of the operand-less reversed forms, so `fdivrp`
 * here assembles to DE F9, which NASM (and Intel) call `fdivp st1, st0`: st1 = st1 / st0.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

typedef struct { unsigned char b[10]; } m80;

static void print_m80(const char *name, const m80 *m, unsigned sw) {
  uint64_t mant;
  uint16_t se;
  memcpy(&mant, m->b, 8);
  memcpy(&se, m->b + 8, 2);
  printf("%-12s mant=0x%016llX se=0x%04X sw=0x%04X\n", name, (unsigned long long)mant, se, sw);
}

static const int i2 = 2, i3 = 3, i10 = 10, i12 = 12, i_big = 123456789;
static const double d11 = 1.1, d33 = 3.3, d25 = 2.5, dm25 = -2.5;
static const unsigned short cw_single = 0x007F, cw_down = 0x077F, cw_up = 0x0B7F, cw_chop = 0x0F7F, cw_zm_clear = 0x037B;
static const m80 two_pow_m64 = {{0, 0, 0, 0, 0, 0, 0, 0x80, 0xBF, 0x3F}};
static const m80 max_finite = {{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x7F}};
static const m80 min_normal = {{0, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0x00}};
static const m80 denormal = {{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
static const m80 snan = {{1, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x7F}};
static const m80 qnan = {{0x34, 0x12, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0x7F}};
static const m80 neg_zero = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80}};
static const m80 neg_inf = {{0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0xFF}};

static void arithmetic(void) {
  m80 r;
  unsigned short sw;
  __asm__ volatile("fninit; fld1; fildl %2; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(i3));
  print_m80("1/3", &r, sw);
  __asm__ volatile("fninit; fildl %2; fsqrt; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(i2));
  print_m80("sqrt(2)", &r, sw);
  __asm__ volatile("fninit; fldl %2; fmull %3; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(d11), "m"(d33));
  print_m80("1.1*3.3", &r, sw);
  __asm__ volatile("fninit; fldcw %2; fld1; fildl %3; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(cw_single), "m"(i3));
  print_m80("1/3 single", &r, sw);
  __asm__ volatile("fninit; fldcw %2; fld1; fildl %3; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(cw_down), "m"(i3));
  print_m80("1/3 down", &r, sw);
  __asm__ volatile("fninit; fildl %2; fildl %3; fprem; fnstsw %1; fstpt %0; fstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(i3), "m"(i10));
  print_m80("fprem 10,3", &r, sw);
  __asm__ volatile("fninit; fld1; fldt %2; faddp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(two_pow_m64));
  print_m80("1+2^-64", &r, sw);
  __asm__ volatile("fninit; fld1; fldz; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw));
  print_m80("1/0", &r, sw);
  __asm__ volatile("fninit; fldz; fldz; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw));
  print_m80("0/0", &r, sw);
  __asm__ volatile("fninit; fldt %2; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(snan));
  print_m80("snan m80", &r, sw);
  __asm__ volatile("fninit; fldt %2; fimull %3; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(max_finite), "m"(i2));
  print_m80("max*2", &r, sw);
  __asm__ volatile("fninit; fldt %2; fildl %3; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(min_normal), "m"(i3));
  print_m80("minnorm/3", &r, sw);
  __asm__ volatile("fninit; fldt %2; fld1; faddp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw) : "m"(denormal));
  print_m80("denormal+1", &r, sw);
  uint64_t q;
  uint32_t d;
  __asm__ volatile("fninit; fld1; fildl %3; fdivrp; fstl %0; fstps %1; fnstsw %2" : "=m"(q), "=m"(d), "=m"(sw) : "m"(i3));
  printf("1/3 stores   m64=0x%016llX m32=0x%08X sw=0x%04X\n", (unsigned long long)q, d, sw);
}

static void integers_and_classes(void) {
  int ri[6];
  __asm__ volatile("fninit; fldl %1; fistpl %0" : "=m"(ri[0]) : "m"(d25));
  __asm__ volatile("fninit; fldcw %2; fldl %1; fistpl %0" : "=m"(ri[1]) : "m"(dm25), "m"(cw_down));
  __asm__ volatile("fninit; fldcw %2; fldl %1; fistpl %0" : "=m"(ri[2]) : "m"(d25), "m"(cw_up));
  __asm__ volatile("fninit; fldcw %2; fldl %1; fistpl %0" : "=m"(ri[3]) : "m"(dm25), "m"(cw_chop));
  __asm__ volatile("fninit; fldl %1; frndint; fistpl %0" : "=m"(ri[4]) : "m"(d25));
  __asm__ volatile("fninit; fldcw %2; fldl %1; frndint; fistpl %0" : "=m"(ri[5]) : "m"(dm25), "m"(cw_up));
  printf("fistp 2.5 nearest=%d, -2.5 down=%d, 2.5 up=%d, -2.5 chop=%d; frndint 2.5 nearest=%d, -2.5 up=%d\n",
         ri[0], ri[1], ri[2], ri[3], ri[4], ri[5]);
  const m80 *cases[] = {&neg_zero, &denormal, &qnan, &neg_inf};
  const char *names[] = {"-0", "denormal", "qnan", "-inf"};
  unsigned short sw;
  for (int k = 0; k < 4; k++) {
    __asm__ volatile("fninit; fldt %1; fxam; fnstsw %0" : "=m"(sw) : "m"(*cases[k]));
    printf("fxam %-8s C3..C0 bits=0x%04X\n", names[k], sw & 0x4700);
  }
  __asm__ volatile("fninit; fld1; fxam; fnstsw %0" : "=m"(sw));
  printf("fxam %-8s C3..C0 bits=0x%04X\n", "1.0", sw & 0x4700);
  __asm__ volatile("fninit; fxam; fnstsw %0" : "=m"(sw));
  printf("fxam %-8s C3..C0 bits=0x%04X\n", "empty", sw & 0x4700);
  unsigned char bcd[10];
  __asm__ volatile("fninit; fildl %1; fchs; fbstp %0" : "=m"(bcd) : "m"(i_big));
  printf("fbstp -123456789:");
  for (int k = 0; k < 10; k++) printf(" %02X", bcd[k]);
  printf("\n");
  m80 sig, ex, scaled;
  __asm__ volatile("fninit; fildl %2; fxtract; fstpt %0; fstpt %1" : "=m"(sig), "=m"(ex) : "m"(i12));
  print_m80("fxtract sig", &sig, 0);
  print_m80("fxtract exp", &ex, 0);
  __asm__ volatile("fninit; fildl %1; fldt %2; fscale; fstpt %0" : "=m"(scaled) : "m"(i3), "m"(sig));
  print_m80("fscale", &scaled, 0);
  unsigned flags;
  __asm__ volatile("fninit; fildl %1; fld1; fcomi %%st(1), %%st; pushf; popl %0; fninit" : "=r"(flags) : "m"(i2));
  printf("fcomi 1 vs 2 ZF/PF/CF=0x%X\n", flags & 0x45);
  __asm__ volatile("fninit; fldt %2; fld1; fucomi %%st(1), %%st; pushf; popl %0; fnstsw %1; fninit" : "=r"(flags), "=m"(sw) : "m"(qnan));
  printf("fucomi qnan ZF/PF/CF=0x%X sw=0x%04X\n", flags & 0x45, sw);
  __asm__ volatile("fninit; fldt %2; fld1; fcomi %%st(1), %%st; pushf; popl %0; fnstsw %1; fninit" : "=r"(flags), "=m"(sw) : "m"(qnan));
  printf("fcomi qnan ZF/PF/CF=0x%X sw=0x%04X\n", flags & 0x45, sw);
}

extern char mf_fdiv[], mf_next[], icebp_at[], icebp_after[], ac_at[], ac_after[];
static sigjmp_buf resume;
static unsigned fault_eip, fault_fip, fault_sw, fault_trapno;

static void on_signal(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)info;
  __asm__ volatile("pushf; andl $~0x40000, (%esp); popf");  /* EFLAGS.AC off in here */
  ucontext_t *uc = context;
  fault_eip = uc->uc_mcontext.gregs[REG_EIP];
  fault_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
  fault_fip = uc->uc_mcontext.fpregs ? uc->uc_mcontext.fpregs->ipoff : 0;
  fault_sw = uc->uc_mcontext.fpregs ? uc->uc_mcontext.fpregs->sw & 0xFFFF : 0;
  siglongjmp(resume, 1);
}

static const char *where(unsigned eip, const char *a_name, const char *a, const char *b_name, const char *b) {
  return eip == (unsigned)a ? a_name : eip == (unsigned)b ? b_name : "elsewhere";
}

static void delivery(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGFPE, &sa, 0);
  sigaction(SIGTRAP, &sa, 0);
  sigaction(SIGILL, &sa, 0);
  sigaction(SIGBUS, &sa, 0);
  if (sigsetjmp(resume, 1) == 0) {
    __asm__ volatile("fninit; fldcw %0; fld1; fldz\nmf_fdiv: fdivrp\n mov $1, %%eax\nmf_next: fld1\n fwait" :: "m"(cw_zm_clear) : "eax");
    printf("#MF: no exception\n");
  } else {
    printf("#MF: EIP at %s, FIP at %s, sw=0x%04X\n", where(fault_eip, "the fdiv", mf_fdiv, "the next x87 instruction", mf_next),
           where(fault_fip, "the fdiv", mf_fdiv, "the next x87 instruction", mf_next), fault_sw);
  }
  if (sigsetjmp(resume, 1) == 0) {
    __asm__ volatile("icebp_at: .byte 0xf1\nicebp_after: nop");
    printf("ICEBP: no exception\n");
  } else {
    printf("ICEBP: vector %u, EIP %s\n", fault_trapno, where(fault_eip, "at it", icebp_at, "after it", icebp_after));
  }
  static char buffer[16] __attribute__((aligned(8)));
  if (sigsetjmp(resume, 1) == 0) {
    __asm__ volatile("pushf; orl $0x40000, (%%esp); popf\nac_at: movl 2(%0), %%eax\nac_after: pushf; andl $~0x40000, (%%esp); popf"
                     :: "r"(buffer) : "eax");
    printf("#AC: no exception\n");
  } else {
    printf("#AC: vector %u, EIP %s\n", fault_trapno, where(fault_eip, "at the access", ac_at, "after it", ac_after));
  }
}

int main(void) {
  arithmetic();
  integers_and_classes();
  delivery();
  return 0;
}
