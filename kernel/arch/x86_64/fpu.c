/* User FPU/SSE/AVX state: enabling it at boot (CR0/CR4, XCR0), saving and restoring a thread's
 * registers on context switches (sched/sched.c through arch/x86_64/context.c), and the FPU part of
 * signal frames (linux/signal.c).
 *
 * xsave/xrstor with XCR0 = x87|SSE|AVX when the CPU has xsave and we are not in PVM-safe mode (kvm_pvm
 * cannot emulate xsave in kernel mode); fxsave/fxrstor (x87 and SSE only, AVX left off) otherwise. */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/fpu.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define SW_BYTES_OFFSET 464 /* struct _fpx_sw_bytes in the fxsave area's software-available bytes */
#define XSAVE_HEADER 512
#define MAX_STATE 2048

struct fpx_sw_bytes {
	uint32_t magic1, extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size, padding[7];
};

static bool use_xsave;
static uint64_t xfeatures;     /* XCR0 */
static uint32_t state_size;    /* 512 (fxsave) or the xsave size for XCR0 */
static uint32_t mxcsr_mask;
static uint8_t initial_state[MAX_STATE] __attribute__((aligned(64)));

void fpu_init(void)
{
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
	state_size = 512;
	if (cpu.xsave && !cpu.pvm_safe) {
		cr4 |= CR4_OSXSAVE;
		write_cr4(cr4);
		xfeatures = 0x3 | (cpu.avx ? 0x4 : 0); /* x87, SSE, AVX */
		__asm__ volatile("xsetbv" ::"c"(0), "a"((uint32_t)xfeatures), "d"((uint32_t)(xfeatures >> 32)));
		uint32_t a, b, c, d;
		cpuid(0xd, 0, &a, &b, &c, &d);
		if (b >= 576 && b <= MAX_STATE) {
			use_xsave = true;
			state_size = b;
		}
	} else {
		write_cr4(cr4);
	}
	cpu.xsave_size = state_size;
	/* MXCSR_MASK: which MXCSR bits may be set (fxsave reports it; 0 means the default 0xffbf). */
	__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])initial_state));
	mxcsr_mask = *(uint32_t *)(initial_state + 28);
	if (!mxcsr_mask)
		mxcsr_mask = 0xffbf;
	memset(initial_state, 0, sizeof(initial_state));
	*(uint16_t *)(initial_state + 0) = 0x37f;
	*(uint32_t *)(initial_state + 24) = 0x1f80;
	*(uint32_t *)(initial_state + 28) = mxcsr_mask;
	if (use_xsave)
		*(uint64_t *)(initial_state + XSAVE_HEADER) = 0x3; /* x87 and SSE from memory, AVX in its init state */
}

uint32_t fpu_state_size(void) { return state_size; }

void fpu_init_state(void *area) { memcpy(area, initial_state, state_size); }

void fpu_save(void *area)
{
	if (use_xsave)
		__asm__ volatile("xsave64 %0" : "+m"(*(uint8_t(*)[MAX_STATE])area)
				 : "a"((uint32_t)xfeatures), "d"((uint32_t)(xfeatures >> 32)));
	else
		__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area));
}

void fpu_restore(const void *area)
{
	if (use_xsave)
		__asm__ volatile("xrstor64 %0" ::"m"(*(const uint8_t(*)[MAX_STATE])area), "a"((uint32_t)xfeatures),
				 "d"((uint32_t)(xfeatures >> 32)));
	else
		__asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])area));
}

void fpu_load_initial(void) { fpu_restore(initial_state); }

uint32_t fpu_sigframe_size(void) { return use_xsave ? state_size + 4 : 512; }

long fpu_to_sigframe(void *area, uint64_t user)
{
	uint8_t *a = area;
	if (use_xsave) {
		struct fpx_sw_bytes sw = {FP_XSTATE_MAGIC1, state_size + 4, xfeatures, state_size, {0}};
		memcpy(a + SW_BYTES_OFFSET, &sw, sizeof(sw));
		uint32_t magic2 = FP_XSTATE_MAGIC2;
		if (copy_to_user(user + state_size, &magic2, 4) < 0)
			return -EFAULT;
	} else {
		memset(a + SW_BYTES_OFFSET, 0, sizeof(struct fpx_sw_bytes));
	}
	return copy_to_user(user, a, state_size);
}

long fpu_from_sigframe(void *area, uint64_t user)
{
	uint8_t *a = area;
	if (copy_from_user(a, user, 512) < 0)
		return -EFAULT;
	*(uint32_t *)(a + 24) &= mxcsr_mask;
	if (!use_xsave)
		return 0;
	struct fpx_sw_bytes sw;
	memcpy(&sw, a + SW_BYTES_OFFSET, sizeof(sw));
	uint32_t magic2 = 0;
	bool extended = sw.magic1 == FP_XSTATE_MAGIC1 && sw.xstate_size == state_size &&
			sw.extended_size == state_size + 4 && copy_from_user(&magic2, user + state_size, 4) == 0 &&
			magic2 == FP_XSTATE_MAGIC2;
	uint64_t present = 0x3; /* a plain fxsave image: x87 and SSE, AVX to its init state */
	if (extended) {
		if (copy_from_user(a + 512, user + 512, state_size - 512) < 0)
			return -EFAULT;
		present = *(uint64_t *)(a + XSAVE_HEADER) & xfeatures & sw.xfeatures;
	}
	memset(a + XSAVE_HEADER, 0, 64); /* xcomp_bv and the reserved bytes must be zero for xrstor */
	*(uint64_t *)(a + XSAVE_HEADER) = present;
	return 0;
}
