/* Process identity and environment: ids, uname, limits, TLS (arch_prctl), thread registration
 * (set_tid_address, set_robust_list, rseq), getrandom, sched_yield. One process with one thread. */
#include "arch/x86_64/cpu.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#define APP_PID 1
#define RLIM_INFINITY (~0UL)
#define RLIMIT_COUNT 16
#define RLIMIT_STACK 3
#define RLIMIT_NOFILE 7

struct rlimit {
	uint64_t cur, max;
};

static struct rlimit limits[RLIMIT_COUNT] = {
    {RLIM_INFINITY, RLIM_INFINITY}, /* CPU */
    {RLIM_INFINITY, RLIM_INFINITY}, /* FSIZE */
    {RLIM_INFINITY, RLIM_INFINITY}, /* DATA */
    {USER_STACK_SIZE, RLIM_INFINITY},
    {0, RLIM_INFINITY},             /* CORE */
    {RLIM_INFINITY, RLIM_INFINITY}, /* RSS */
    {63687, 63687},                 /* NPROC */
    {1024, MAX_FDS},                /* NOFILE */
    {8UL << 20, 8UL << 20},         /* MEMLOCK */
    {RLIM_INFINITY, RLIM_INFINITY}, /* AS */
    {RLIM_INFINITY, RLIM_INFINITY}, /* LOCKS */
    {63687, 63687},                 /* SIGPENDING */
    {819200, 819200},               /* MSGQUEUE */
    {0, 0},                         /* NICE */
    {0, 0},                         /* RTPRIO */
    {RLIM_INFINITY, RLIM_INFINITY}, /* RTTIME */
};

SYSCALL_DEFINE(getpid) { return APP_PID; }
SYSCALL_DEFINE(gettid) { return APP_PID; }
SYSCALL_DEFINE(getppid) { return 0; }
SYSCALL_DEFINE(getuid) { return 0; }
SYSCALL_DEFINE(geteuid) { return 0; }
SYSCALL_DEFINE(getgid) { return 0; }
SYSCALL_DEFINE(getegid) { return 0; }

static long three_zeros(uint64_t a, uint64_t b, uint64_t c)
{
	uint32_t zero = 0;
	if (copy_to_user(a, &zero, 4) < 0 || copy_to_user(b, &zero, 4) < 0 || copy_to_user(c, &zero, 4) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(getresuid) { return three_zeros(a0, a1, a2); }
SYSCALL_DEFINE(getresgid) { return three_zeros(a0, a1, a2); }

SYSCALL_DEFINE(uname)
{
	struct {
		char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
	} u;
	memset(&u, 0, sizeof(u));
	memcpy(u.sysname, "Linux", 6);
	memcpy(u.nodename, current->hostname, sizeof(current->hostname));
	memcpy(u.release, "6.1.0-osv", 10);
	snprintf(u.version, sizeof(u.version), "#1 SMP %s", OSV_VERSION);
	memcpy(u.machine, "x86_64", 7);
	memcpy(u.domainname, "(none)", 7);
	return copy_to_user(a0, &u, sizeof(u));
}

static long get_set_limit(uint64_t resource, uint64_t new_limit, uint64_t old_limit)
{
	if (resource >= RLIMIT_COUNT)
		return -EINVAL;
	struct rlimit wanted;
	if (new_limit) {
		if (copy_from_user(&wanted, new_limit, sizeof(wanted)) < 0)
			return -EFAULT;
		if (wanted.cur > wanted.max)
			return -EINVAL;
		if (wanted.max > limits[resource].max)
			return -EPERM;
		if (resource == RLIMIT_NOFILE && wanted.max > MAX_FDS)
			return -EPERM;
	}
	if (old_limit && copy_to_user(old_limit, &limits[resource], sizeof(limits[0])) < 0)
		return -EFAULT;
	if (new_limit)
		limits[resource] = wanted;
	return 0;
}

SYSCALL_DEFINE(prlimit64)
{
	if (a0 != 0 && a0 != APP_PID)
		return -ESRCH;
	return get_set_limit(a1, a2, a3);
}

SYSCALL_DEFINE(getrlimit) { return get_set_limit(a0, 0, a1); }

SYSCALL_DEFINE(arch_prctl)
{
	switch (a0) {
	case ARCH_SET_FS:
		if (a1 >= USER_TOP)
			return -EPERM;
		current->fs_base = a1;
		cpu_set_fs_base(a1);
		return 0;
	case ARCH_GET_FS:
		return copy_to_user(a1, &current->fs_base, 8);
	case ARCH_SET_GS:
		if (a1 >= USER_TOP)
			return -EPERM;
		wrmsr(MSR_KERNEL_GS_BASE, a1); /* the user's GS base while we run on ours */
		return 0;
	case ARCH_GET_GS: {
		uint64_t gs = rdmsr(MSR_KERNEL_GS_BASE);
		return copy_to_user(a1, &gs, 8);
	}
	default:
		return -EINVAL;
	}
}

SYSCALL_DEFINE(set_tid_address)
{
	current->clear_child_tid = a0;
	return APP_PID;
}

SYSCALL_DEFINE(set_robust_list)
{
	if (a1 != 24) /* sizeof(struct robust_list_head) */
		return -EINVAL;
	current->robust_list = a0;
	current->robust_list_len = a1;
	return 0;
}

/* rseq: registration only. The app never migrates between CPUs and is never preempted inside a
 * critical section (one thread), so writing cpu_id once keeps the area correct. */
SYSCALL_DEFINE(rseq)
{
	uint64_t area = a0, len = a1, flags = a2;
	if (flags & ~1UL)
		return -EINVAL;
	if (flags & 1) /* RSEQ_FLAG_UNREGISTER */
		return 0;
	if (len < 32 || (area & 31))
		return -EINVAL;
	uint32_t ids[2] = {0, 0}; /* cpu_id_start, cpu_id */
	if (copy_to_user(area, ids, sizeof(ids)) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(getrandom)
{
	if (a2 & ~7UL) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
		return -EINVAL;
	return random_to_user(a0, a1);
}

SYSCALL_DEFINE(sched_yield) { return 0; }
