/* Process identity and environment: ids, groups and sessions, uname and hostname, limits, umask,
 * personality, prctl, TLS (arch_prctl), scheduling (yield, affinity, policies, nice values, getcpu), sysinfo,
 * getrandom. One process (pid 1) with its threads (linux/sys_thread.c). */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/sched.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
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
	if (new_limit && resource == RLIMIT_NOFILE)
		fd_set_limit(wanted.cur);
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
	/* The running thread's bases are in the MSRs and, unless user code may change them itself
	 * (FSGSBASE), also in its thread (arch/x86_64/context.c). */
	case ARCH_SET_FS:
		if (a1 >= USER_TOP)
			return -EPERM;
		current_thread()->fs_base = a1;
		cpu_set_fs_base(a1);
		return 0;
	case ARCH_GET_FS: {
		uint64_t fs = cpu.user_fsgsbase ? rdmsr(MSR_FS_BASE) : current_thread()->fs_base;
		return copy_to_user(a1, &fs, 8);
	}
	case ARCH_SET_GS:
		if (a1 >= USER_TOP)
			return -EPERM;
		current_thread()->gs_base = a1;
		wrmsr(MSR_KERNEL_GS_BASE, a1); /* the user's GS base while we run on ours */
		return 0;
	case ARCH_GET_GS: {
		uint64_t gs = cpu.user_fsgsbase ? rdmsr(MSR_KERNEL_GS_BASE) : current_thread()->gs_base;
		return copy_to_user(a1, &gs, 8);
	}
	default:
		return -EINVAL;
	}
}

SYSCALL_DEFINE(getrandom)
{
	if (a2 & ~7UL) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
		return -EINVAL;
	return random_to_user(a0, a1);
}

SYSCALL_DEFINE(sched_yield)
{
	schedule();
	return 0;
}

SYSCALL_DEFINE(getpgrp) { return APP_PID; }
SYSCALL_DEFINE(getpgid) { return a0 == 0 || a0 == APP_PID ? APP_PID : -ESRCH; }
SYSCALL_DEFINE(getsid) { return a0 == 0 || a0 == APP_PID ? APP_PID : -ESRCH; }
SYSCALL_DEFINE(setsid) { return -EPERM; } /* already a session and group leader, like init */

static uint32_t file_mode_mask = 022;

uint32_t process_umask(void) { return file_mode_mask; }

SYSCALL_DEFINE(umask)
{
	uint32_t old = file_mode_mask;
	file_mode_mask = a0 & 0777;
	return old;
}

SYSCALL_DEFINE(personality)
{
	/* PER_LINUX (0) is all there is; 0xffffffff queries. */
	if (a0 != 0 && a0 != 0xffffffffUL)
		return -EINVAL;
	return 0;
}

#define PR_SET_NAME 15
#define PR_GET_NAME 16
#define PR_SET_VMA 0x53564d41
#define PR_GET_DUMPABLE 3
#define PR_SET_DUMPABLE 4

/* A live thread of the process named by a pid argument (0: the caller); NULL if none. */
static struct thread *thread_of(uint64_t pid)
{
	if (pid == 0)
		return current_thread();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	struct thread *t = pid < 0x40000000UL ? thread_by_tid((int)pid) : NULL;
	spin_unlock_irqrestore(&sched_lock, flags);
	return t;
}

SYSCALL_DEFINE(prctl)
{
	switch (a0) {
	case PR_SET_NAME: {
		char name[16];
		long n = strncpy_from_user(name, a1, sizeof(name));
		if (n == -EFAULT)
			return -EFAULT;
		if (n == -ENAMETOOLONG) { /* longer names are cut, as on Linux */
			if (copy_from_user(name, a1, sizeof(name) - 1) < 0)
				return -EFAULT;
			name[sizeof(name) - 1] = 0;
		}
		memcpy(current_thread()->name, name, sizeof(name));
		return 0;
	}
	case PR_GET_NAME: {
		char name[16];
		const char *own = current_thread()->name;
		memcpy(name, own, sizeof(name));
		if (!own[0]) { /* default: the program's file name, cut to 15 bytes */
			const char *base = current->exe_path, *slash;
			while ((slash = strchr(base, '/')))
				base = slash + 1;
			size_t len = strnlen(base, sizeof(name) - 1);
			memcpy(name, base, len);
			name[len] = 0;
		}
		return copy_to_user(a1, name, sizeof(name));
	}
	case PR_SET_VMA:
		return 0; /* naming anonymous memory is only a hint */
	case PR_GET_DUMPABLE:
		return 1;
	case PR_SET_DUMPABLE:
		return a1 <= 1 ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

SYSCALL_DEFINE(sethostname)
{
	if (a1 > 64)
		return -EINVAL;
	char name[65];
	if (copy_from_user(name, a0, a1) < 0)
		return -EFAULT;
	name[a1] = 0;
	memcpy(current->hostname, name, a1 + 1);
	return 0;
}

/* One CPU for now: the affinity mask is CPU 0. */
SYSCALL_DEFINE(sched_getaffinity)
{
	if (!thread_of(a0))
		return -ESRCH;
	if (a1 < 8 || (a1 & 7))
		return -EINVAL;
	uint64_t mask = 1;
	if (copy_to_user(a2, &mask, 8) < 0)
		return -EFAULT;
	return 8;
}

SYSCALL_DEFINE(sched_setaffinity)
{
	if (!thread_of(a0))
		return -ESRCH;
	uint64_t mask = 0;
	if (copy_from_user(&mask, a2, MIN(a1, 8)) < 0)
		return -EFAULT;
	return (mask & 1) ? 0 : -EINVAL;
}

#define SCHED_OTHER 0
#define SCHED_FIFO 1
#define SCHED_RR 2
#define SCHED_BATCH 3
#define SCHED_IDLE 5

SYSCALL_DEFINE(sched_get_priority_max)
{
	if (a0 == SCHED_FIFO || a0 == SCHED_RR)
		return 99;
	return a0 == SCHED_OTHER || a0 == SCHED_BATCH || a0 == SCHED_IDLE ? 0 : -EINVAL;
}

SYSCALL_DEFINE(sched_get_priority_min)
{
	if (a0 == SCHED_FIFO || a0 == SCHED_RR)
		return 1;
	return a0 == SCHED_OTHER || a0 == SCHED_BATCH || a0 == SCHED_IDLE ? 0 : -EINVAL;
}

#define SCHED_RESET_ON_FORK 0x40000000

static bool normal_policy(uint64_t policy) { return policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE; }

/* Every thread runs under SCHED_OTHER with priority 0 (the scheduler is round robin): the normal
 * policies are accepted, the real-time ones refused as for a process without CAP_SYS_NICE. */
static long set_policy(uint64_t pid, uint64_t policy, uint64_t user_param)
{
	if ((int32_t)pid < 0 || !user_param) /* a pid_t: an int */
		return -EINVAL;
	int32_t priority;
	if (copy_from_user(&priority, user_param, sizeof(priority)) < 0)
		return -EFAULT;
	if (!thread_of((uint32_t)pid))
		return -ESRCH;
	policy &= ~(uint64_t)SCHED_RESET_ON_FORK;
	if (policy == SCHED_FIFO || policy == SCHED_RR)
		return priority < 1 || priority > 99 ? -EINVAL : -EPERM;
	return normal_policy(policy) && priority == 0 ? 0 : -EINVAL;
}

SYSCALL_DEFINE(sched_setscheduler) { return set_policy(a0, a1, a2); }
SYSCALL_DEFINE(sched_setparam) { return set_policy(a0, SCHED_OTHER, a1); }

SYSCALL_DEFINE(sched_getscheduler)
{
	if ((int32_t)a0 < 0)
		return -EINVAL;
	return thread_of((uint32_t)a0) ? SCHED_OTHER : -ESRCH;
}

SYSCALL_DEFINE(sched_getparam)
{
	if ((int32_t)a0 < 0 || !a1)
		return -EINVAL;
	if (!thread_of((uint32_t)a0))
		return -ESRCH;
	int32_t priority = 0;
	return copy_to_user(a1, &priority, sizeof(priority));
}

#define PRIO_PROCESS 0
#define PRIO_PGRP 1
#define PRIO_USER 2

/* Nice values are per thread, as on Linux: PRIO_PROCESS names one thread by its tid (0: the caller;
 * the pid is the first thread's tid, so it names that thread only); PRIO_PGRP (our group, 0 or the pid)
 * and PRIO_USER (root, 0) name every thread. The scheduler gives each thread time slices as long as its
 * nice value weighs (sched/sched.c). */
struct priority_walk {
	bool set;
	int nice;  /* the value to set */
	int best;  /* what getpriority reports: the highest 20 - nice met (Linux's "best" priority) */
};

/* sched_lock held. */
static void visit_priority(struct thread *t, struct priority_walk *walk)
{
	if (walk->set)
		t->nice = walk->nice;
	walk->best = MAX(walk->best, 20 - t->nice);
}

static void visit_member(struct thread *t, void *walk)
{
	if (!t->left) /* still a member of the process */
		visit_priority(t, walk);
}

/* Sets (or, with walk->set false, reads) the nice values of the threads which and who name; 0, -EINVAL
 * or -ESRCH. */
static long walk_priorities(uint64_t which, uint64_t who, struct priority_walk *walk)
{
	int32_t id = (int32_t)who; /* an id_t the kernel reads as an int */
	if (which > PRIO_USER)
		return -EINVAL;
	if (which == PRIO_PROCESS) {
		struct thread *t = id < 0 ? NULL : thread_of((uint32_t)id);
		if (!t)
			return -ESRCH;
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		visit_priority(t, walk);
		spin_unlock_irqrestore(&sched_lock, flags);
		return 0;
	}
	if (id != 0 && id != (which == PRIO_USER ? 0 : APP_PID))
		return -ESRCH;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	thread_for_each(visit_member, walk);
	spin_unlock_irqrestore(&sched_lock, flags);
	return 0;
}

SYSCALL_DEFINE(getpriority)
{
	struct priority_walk walk = {.set = false, .best = 0};
	long r = walk_priorities(a0, a1, &walk);
	return r < 0 ? r : walk.best; /* the raw syscall returns 20 - nice, never negative */
}

SYSCALL_DEFINE(setpriority)
{
	struct priority_walk walk = {.set = true, .nice = MAX(-20, MIN((int32_t)a2, 19)), .best = 0};
	return walk_priorities(a0, a1, &walk);
}

SYSCALL_DEFINE(getcpu)
{
	uint32_t zero = 0;
	if (a0 && copy_to_user(a0, &zero, 4) < 0)
		return -EFAULT;
	if (a1 && copy_to_user(a1, &zero, 4) < 0)
		return -EFAULT;
	return 0;
}

struct sysinfo {
	int64_t uptime;
	uint64_t loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint32_t pad2;
	uint64_t totalhigh, freehigh;
	uint32_t mem_unit;
	char reserved[4];
};

SYSCALL_DEFINE(sysinfo)
{
	struct sysinfo info;
	memset(&info, 0, sizeof(info));
	info.uptime = (int64_t)(clock_monotonic_ns() / 1000000000);
	info.totalram = phys_total_bytes();
	info.freeram = phys_free_bytes();
	info.procs = (uint16_t)thread_count();
	info.mem_unit = 1;
	return copy_to_user(a0, &info, sizeof(info));
}
