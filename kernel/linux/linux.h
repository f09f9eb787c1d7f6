/* The Linux personality: the app's process state, syscall dispatch, signals numbers, program loading
 * and exit. */
#pragma once
#include "arch/x86_64/cpu.h"
#include "linux/signal.h"
#include "mm/mm.h"
#include "types.h"

/* Exit statuses of the VM besides the app's own (see kernel/README.md). */
#define EXIT_BAD_CMDLINE 2
#define EXIT_CANNOT_START 127
#define EXIT_PANIC 125

struct ramfs_node;

/* The one process: its address space, program and Linux-visible state shared by its threads (per-thread
 * state is in struct thread, sched/thread.h). */
struct process {
	struct address_space *as;
	const char *exe_path;
	struct ramfs_node *exe;
	uint64_t load_bias;
	struct k_sigaction actions[NSIG + 1]; /* [sched_lock] */
	struct sigpending shared_pending;     /* [sched_lock] signals sent to the process */
	bool leader_exited;                   /* thread 1 ended with exit while others go on */
	struct ramfs_node *cwd;
	char hostname[65];
	const struct boot_options *boot; /* argv and environment, for /proc/self/cmdline and environ */
	uint64_t auxv[48];               /* the auxiliary vector given to the program (/proc/self/auxv) */
	size_t auxv_bytes;
	uint64_t start_tsc;              /* when the program started (TSC; clock_tsc_to_ns converts) */
};
extern struct process *current;

struct boot_options;
/* Loads the program named by the boot options and runs it in ring 3 (does not return). */
NORETURN void exec_app(const struct boot_options *opts);

/* Maps the vDSO and its data page into as; the image's address (AT_SYSINFO_EHDR), 0 when out of room. */
uint64_t vdso_map(struct address_space *as);
/* Publishes the clock's TSC conversion and realtime offset to the vDSO once the clock knows them. */
void vdso_sync_clock(void);

/* The file mode creation mask (umask) new files and directories are made with. */
uint32_t process_umask(void);

long syscall_dispatch(struct trap_frame *f);
/* The way back to user mode from a syscall, interrupt or fault (interrupts off): deferred work, a
 * reschedule when the time slice is over, pending signals. f is the thread's user frame. */
void return_to_user(struct trap_frame *f);
/* The fatal report for a fault nobody handles, then exit status 128 + signo. */
NORETURN void app_fatal_fault(struct trap_frame *f, int signo, uint64_t addr);
/* Ends the process: every thread stops, sockets close, TCP may deliver what was written, VM exit. */
NORETURN void process_exit(int status);
/* Ends the VM with the app's exit status (arch/x86_64/power.c). */
NORETURN void vm_exit(int status);
const char *exception_name(uint64_t vector);
void dump_registers(const struct trap_frame *f);
/* Name of the app's function containing addr (its ELF symbol table), NULL if unknown. */
const char *app_symbol(uint64_t addr, uint64_t *offset);
void random_bytes(void *buf, size_t n);
/* Fills user memory with random bytes; the count, or -EFAULT when nothing could be written. */
long random_to_user(uint64_t user_buf, size_t n);

/* The program's process id (it is the only process). */
#define APP_PID 1

/* Closes every socket descriptor (exit: connections then finish as after close). */
void sockets_close_all(void);

/* Path helpers shared by the file syscalls (linux/sys_file.c, linux/sys_fs.c). */
long get_path(uint64_t user_path, char *buf);
/* The directory a relative path starts from: the cwd, or the directory open on dirfd. */
long start_dir(int dirfd, const char *path, struct ramfs_node **out);
/* The node of dirfd/path, following a final symlink when follow. */
long resolve_path(int dirfd, const char *path, bool follow, struct ramfs_node **out);
/* Makes a new entry dirfd/path (mode has the type) in a writable directory: -EEXIST, -EROFS, ... */
long create_at(int dirfd, char *path, uint32_t mode, struct ramfs_node **out);

/* The signature every syscall handler has: six raw argument registers in, result or -errno out. */
typedef long (*syscall_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
#define SYSCALL_DEFINE(name)                                                                         \
	long sys_##name(uint64_t a0 UNUSED, uint64_t a1 UNUSED, uint64_t a2 UNUSED, uint64_t a3 UNUSED,  \
			uint64_t a4 UNUSED, uint64_t a5 UNUSED)
