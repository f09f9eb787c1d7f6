/* Every way into and out of the kernel: the 256 interrupt/exception stubs, the `syscall` entry, the
 * return to user mode (sysretq when allowed, iretq otherwise: see cpu.c; threads start through
 * trap_return, see switch.S) and user-memory accesses whose faults are turned into -EFAULT through the
 * exception table (.extable, read by traps.c).
 *
 * All paths build a struct trap_frame (cpu.h). GS: the kernel runs with GS base = its per-CPU area
 * (offsets below, see struct percpu in percpu.h); swapgs on every user<->kernel crossing. */

#define PERCPU_KERNEL_RSP 8
#define PERCPU_USER_RSP 16
#define FRAME_RCX 96
#define FRAME_R11 32
#define FRAME_RIP 136
#define FRAME_RFLAGS 152
#define EFAULT 14

.macro PUSH_REGS
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
.endm

.macro POP_REGS
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
.endm

.text
/* Stub n: push a zero error code where the CPU pushes none, then the vector. 16 bytes each. */
.balign 16
.globl trap_stubs
trap_stubs:
.set vec, 0
.rept 256
	.balign 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
.set vec, vec + 1
.endr

trap_common:
	testb $3, 24(%rsp)              /* CS of the interrupted code */
	jz 1f
	swapgs
1:	PUSH_REGS
	cld
	mov %rsp, %rdi
	call trap_dispatch
.globl trap_return
trap_return:
	POP_REGS
	add $16, %rsp
	testb $3, 8(%rsp)
	jz 2f
	swapgs
2:	iretq

/* syscall: RCX = user RIP, R11 = user RFLAGS, interrupts masked by SFMASK. */
.globl syscall_entry
syscall_entry:
	swapgs
	mov %rsp, %gs:PERCPU_USER_RSP
	mov %gs:PERCPU_KERNEL_RSP, %rsp
	pushq $0x2b                     /* SS (USER_DS in cpu.h) */
	pushq %gs:PERCPU_USER_RSP       /* RSP */
	push %r11                       /* RFLAGS */
	pushq $0x33                     /* CS (USER_CS in cpu.h) */
	push %rcx                       /* RIP */
	pushq $0                        /* error */
	pushq $-1                       /* vector: -1 marks a syscall */
	PUSH_REGS
	cld
	mov %rsp, %rdi
	sti
	call syscall_dispatch
	cli
	/* sysretq only when enabled and when RCX/R11 still equal RIP/RFLAGS (so nothing like a signal
	 * return changed them) and RIP is canonical; every other case returns with iretq. */
	cmpb $0, use_sysret(%rip)
	je trap_return
	mov FRAME_RCX(%rsp), %rcx
	cmp FRAME_RIP(%rsp), %rcx
	jne trap_return
	mov FRAME_R11(%rsp), %r11
	cmp FRAME_RFLAGS(%rsp), %r11
	jne trap_return
	movabs $0x00007ffffffff000, %r11
	cmp %r11, %rcx
	jae trap_return
	POP_REGS
	add $16, %rsp                   /* vector, error: RSP now at the saved RIP */
	swapgs
	mov 24(%rsp), %rsp              /* user RSP */
	sysretq

/* long copy_user_bytes(void *dst, const void *src, size_t n): 0, or -EFAULT if a fault hit.
 * 8 bytes per step, then the rest: kvm_pvm emulates every iteration of a rep string instruction. */
.globl copy_user_bytes
copy_user_bytes:
	mov %rdx, %rcx
	shr $3, %rcx
3:	rep movsq
	mov %rdx, %rcx
	and $7, %rcx
11:	rep movsb
	xor %eax, %eax
	ret
4:	mov $-EFAULT, %rax
	ret

/* long copy_user_string(char *dst, const char *src, size_t max): length without the NUL,
 * max if no NUL in the first max bytes, or -EFAULT. */
.globl copy_user_string
copy_user_string:
	xor %eax, %eax
5:	cmp %rdx, %rax
	je 7f
6:	movb (%rsi,%rax), %cl
	movb %cl, (%rdi,%rax)
	test %cl, %cl
	jz 7f
	inc %rax
	jmp 5b
7:	ret
8:	mov $-EFAULT, %rax
	ret

/* long zero_user_bytes(void *dst, size_t n): 0, or -EFAULT; 8 bytes per step like copy_user_bytes. */
.globl zero_user_bytes
zero_user_bytes:
	mov %rsi, %rcx
	shr $3, %rcx
	xor %eax, %eax
9:	rep stosq
	mov %rsi, %rcx
	and $7, %rcx
12:	rep stosb
	ret
10:	mov $-EFAULT, %rax
	ret

/* long cmpxchg_user_u32(uint32_t *uaddr, uint32_t old, uint32_t new): atomically replaces *uaddr by
 * new if it holds old; the value found there (old on success), or -EFAULT. For futexes. */
.globl cmpxchg_user_u32
cmpxchg_user_u32:
	mov %esi, %eax
13:	lock cmpxchgl %edx, (%rdi)
	ret
14:	mov $-EFAULT, %rax
	ret

.section .extable, "a"
	.quad 13b, 14b
	.quad 3b, 4b
	.quad 11b, 4b
	.quad 6b, 8b
	.quad 9b, 10b
	.quad 12b, 10b
