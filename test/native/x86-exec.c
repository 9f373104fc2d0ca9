/*
 * x86-exec: the native side of the host-CPU differential test (test/differential/).
 * Test-only; built by test/native/build.mjs with `gcc -m32 -O1` (a 32-bit process, so the
 * host CPU runs the generated IA-32 code natively in 32-bit user mode).
 *
 * It reads fixed-size case records from stdin until EOF and writes one result record per
 * case to stdout (layouts below and in test/differential/native.ts; all little-endian):
 *
 *   in : u32 flags (reserved, 0) | u32 codeLen | u8 code[64] | u32 regs[8] (EAX..EDI)
 *        | u32 eflags | u8 data[1024]
 *   out: u32 vector (0xFFFFFFFF: ran to the end; 0xFFFFFFFE: timed out; else the
 *        hardware exception vector, from the signal context's trap number)
 *        | u32 eip (end of the code, or the faulting / trapping EIP) | u32 regs[8]
 *        | u32 eflags | u32 errorCode | u8 data[1024]
 *
 * The code is copied to a fixed RWX page at CODE_BASE followed by an absolute indirect
 * JMP back into the runner; the data window is copied to a fixed page at DATA_BASE. An
 * assembly trampoline loads EFLAGS (status flags and DF only: the caller's other bits are
 * kept) and all eight general registers, ESP included (it points into the data page), and
 * jumps to the code. The return path stores the registers without touching the test's
 * stack, switches to a private stack for PUSHFD, then restores the C runtime's stack,
 * callee-saved registers and data segment registers. Exceptions (SIGFPE, SIGILL, SIGSEGV,
 * SIGBUS, SIGTRAP) are taken on an alternate signal stack, so the kernel's signal frame
 * never lands in the data page; the handler records the context (registers, EFLAGS, EIP,
 * trap number, error code) and siglongjmps back. The addresses are the same numbers the
 * emulator side uses (test/helpers/flat32-cpu.ts), so x87 instruction and operand pointers
 * agree; the runner is linked high (-Ttext-segment) to keep these pages free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_BASE 0x00100000u
#define DATA_BASE 0x00200000u
#define PAGE 0x1000u
#define MAX_CODE 64
#define DATA_SIZE 1024
#define VECTOR_NONE 0xffffffffu
#define VECTOR_TIMEOUT 0xfffffffeu
/* EFLAGS bits a case may set: CF PF AF ZF SF DF OF. */
#define CASE_FLAGS 0x0cd5u

struct case_in {
  uint32_t flags;
  uint32_t code_len;
  uint8_t code[MAX_CODE];
  uint32_t regs[8];
  uint32_t eflags;
  uint8_t data[DATA_SIZE];
};

struct case_out {
  uint32_t vector;
  uint32_t eip;
  uint32_t regs[8];
  uint32_t eflags;
  uint32_t error_code;
  uint8_t data[DATA_SIZE];
};

/* Shared with the trampoline (referenced by name from the assembly below). */
uint32_t xe_in_regs[9];   /* EAX..EDI, EFLAGS */
uint32_t xe_out_regs[9];  /* EAX..EDI, EFLAGS */
uint32_t xe_host_esp;
uint32_t xe_code_entry = CODE_BASE;
uint32_t xe_exit_ptr;
uint16_t xe_host_segs[4]; /* DS ES FS GS */
uint8_t xe_private_stack[256] __attribute__((aligned(16)));

void xe_run(void);
void xe_exit(void);

__asm__(
  ".text\n"
  ".globl xe_run\n"
  "xe_run:\n"
  "  pushl %ebp\n  pushl %ebx\n  pushl %esi\n  pushl %edi\n"
  "  movw %ds, xe_host_segs\n  movw %es, xe_host_segs+2\n"
  "  movw %fs, xe_host_segs+4\n  movw %gs, xe_host_segs+6\n"
  "  movl %esp, xe_host_esp\n"
  "  pushfl\n"
  "  andl $~0x0cd5, (%esp)\n"
  "  movl xe_in_regs+32, %eax\n"
  "  andl $0x0cd5, %eax\n"
  "  orl %eax, (%esp)\n"
  "  popfl\n"
  "  movl xe_in_regs+4, %ecx\n  movl xe_in_regs+8, %edx\n  movl xe_in_regs+12, %ebx\n"
  "  movl xe_in_regs+20, %ebp\n  movl xe_in_regs+24, %esi\n  movl xe_in_regs+28, %edi\n"
  "  movl xe_in_regs+16, %esp\n  movl xe_in_regs+0, %eax\n"
  "  jmp *xe_code_entry\n"
  ".globl xe_exit\n"
  "xe_exit:\n"
  "  movl %eax, xe_out_regs+0\n  movl %ecx, xe_out_regs+4\n  movl %edx, xe_out_regs+8\n"
  "  movl %ebx, xe_out_regs+12\n  movl %esp, xe_out_regs+16\n  movl %ebp, xe_out_regs+20\n"
  "  movl %esi, xe_out_regs+24\n  movl %edi, xe_out_regs+28\n"
  "  movl $xe_private_stack+256, %esp\n"
  "  pushfl\n  popl xe_out_regs+32\n"
  "  cld\n"
  "  movl xe_host_esp, %esp\n"
  "  movw xe_host_segs, %ds\n  movw xe_host_segs+2, %es\n"
  "  movw xe_host_segs+4, %fs\n  movw xe_host_segs+6, %gs\n"
  "  popl %edi\n  popl %esi\n  popl %ebx\n  popl %ebp\n"
  "  ret\n");

static sigjmp_buf fault_jump;
static volatile int in_case;
static struct case_out *current_out;

/* Restore the data segment registers after a siglongjmp out of the test code. */
static void restore_segments(void) {
  __asm__ volatile(
    "movw xe_host_segs, %%ds\n movw xe_host_segs+2, %%es\n"
    "movw xe_host_segs+4, %%fs\n movw xe_host_segs+6, %%gs\n" ::: "memory");
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)info;
  ucontext_t *uc = (ucontext_t *)context;
  greg_t *g = uc->uc_mcontext.gregs;
  if (!in_case) {
    fprintf(stderr, "x86-exec: signal %d outside a test case\n", sig);
    _exit(3);
  }
  struct case_out *o = current_out;
  o->vector = sig == SIGALRM ? VECTOR_TIMEOUT : (uint32_t)g[REG_TRAPNO];
  o->eip = (uint32_t)g[REG_EIP];
  o->error_code = (uint32_t)g[REG_ERR];
  o->regs[0] = (uint32_t)g[REG_EAX];
  o->regs[1] = (uint32_t)g[REG_ECX];
  o->regs[2] = (uint32_t)g[REG_EDX];
  o->regs[3] = (uint32_t)g[REG_EBX];
  o->regs[4] = (uint32_t)g[REG_UESP];
  o->regs[5] = (uint32_t)g[REG_EBP];
  o->regs[6] = (uint32_t)g[REG_ESI];
  o->regs[7] = (uint32_t)g[REG_EDI];
  o->eflags = (uint32_t)g[REG_EFL];
  in_case = 0;
  siglongjmp(fault_jump, 1);
}

static void install_handlers(void) {
  static uint8_t alt_stack[65536];
  stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0 };
  if (sigaltstack(&ss, NULL) != 0) { perror("x86-exec: sigaltstack"); exit(2); }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  const int signals[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGALRM };
  for (unsigned k = 0; k < sizeof signals / sizeof signals[0]; k++) {
    if (sigaction(signals[k], &sa, NULL) != 0) { perror("x86-exec: sigaction"); exit(2); }
  }
}

static void map_fixed(uint32_t address, int prot, const char *what) {
  void *p = mmap((void *)(uintptr_t)address, PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || (uintptr_t)p != address) {
    fprintf(stderr, "x86-exec: cannot map the %s page at 0x%08x: %s\n", what, address, strerror(errno));
    exit(2);
  }
}

static int read_full(void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(0, (uint8_t *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return got == 0 ? 0 : -1;
    got += (size_t)r;
  }
  return 1;
}

static void write_full(const void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(1, (const uint8_t *)buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { perror("x86-exec: write"); exit(2); }
    done += (size_t)w;
  }
}

/* Place the code, then FF 25 <&xe_exit_ptr>: JMP [xe_exit_ptr]; the rest of the page is HLT (#GP in user mode). */
static void place_code(const struct case_in *c) {
  uint8_t *code = (uint8_t *)(uintptr_t)CODE_BASE;
  memset(code, 0xf4, PAGE);
  memcpy(code, c->code, c->code_len);
  uint8_t *j = code + c->code_len;
  uint32_t target = (uint32_t)(uintptr_t)&xe_exit_ptr;
  j[0] = 0xff;
  j[1] = 0x25;
  memcpy(j + 2, &target, 4);
}

static void run_case(const struct case_in *c, struct case_out *o) {
  memset(o, 0, sizeof *o);
  place_code(c);
  memcpy((void *)(uintptr_t)DATA_BASE, c->data, DATA_SIZE);
  memcpy(xe_in_regs, c->regs, sizeof c->regs);
  xe_in_regs[8] = c->eflags;
  current_out = o;
  alarm(5);
  if (sigsetjmp(fault_jump, 0) == 0) {
    in_case = 1;
    xe_run();
    in_case = 0;
    o->vector = VECTOR_NONE;
    o->eip = CODE_BASE + c->code_len;
    memcpy(o->regs, xe_out_regs, sizeof o->regs);
    o->eflags = xe_out_regs[8];
  } else {
    restore_segments();
  }
  alarm(0);
  memcpy(o->data, (void *)(uintptr_t)DATA_BASE, DATA_SIZE);
}

int main(void) {
  map_fixed(CODE_BASE, PROT_READ | PROT_WRITE | PROT_EXEC, "code");
  map_fixed(DATA_BASE, PROT_READ | PROT_WRITE, "data");
  xe_exit_ptr = (uint32_t)(uintptr_t)&xe_exit;
  install_handlers();
  static struct case_in in;
  static struct case_out out;
  for (;;) {
    int r = read_full(&in, sizeof in);
    if (r == 0) break;
    if (r < 0) { fprintf(stderr, "x86-exec: truncated case record on stdin\n"); return 2; }
    if (in.code_len > MAX_CODE) { fprintf(stderr, "x86-exec: code too long (%u bytes)\n", in.code_len); return 2; }
    run_case(&in, &out);
    write_full(&out, sizeof out);
  }
  return 0;
}
