/* Starting the app: find the program in the filesystem, load it and its interpreter if it names one
 * (linux/elf.c), build the initial stack Linux programs expect (argc, argv, envp, auxv, strings,
 * AT_RANDOM bytes) and start its first thread (tid 1) in ring 3, at the interpreter's entry for a
 * dynamically linked program; the boot context then becomes the idle loop (sched/sched.c). */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/clock.h"
#include "arch/x86_64/fpu.h"
#include "boot.h"
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/elf.h"
#include "linux/linux.h"
#include "sched/sched.h"

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_FLAGS 8
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_PLATFORM 15
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_HWCAP2 26
#define AT_EXECFN 31
#define AT_SYSINFO_EHDR 33

static struct process the_process;
struct process *current;

/* Builds the stack downwards from the top of the stack region. */
struct stack_builder {
	uint64_t sp;
	bool failed;
};

static uint64_t push_bytes(struct stack_builder *sb, const void *data, size_t n)
{
	sb->sp -= n;
	if (copy_to_user(sb->sp, data, n) < 0)
		sb->failed = true;
	return sb->sp;
}

static uint64_t push_string(struct stack_builder *sb, const char *s) { return push_bytes(sb, s, strlen(s) + 1); }

/* img is the program; interp_base is where its interpreter is (AT_BASE), 0 without one; vdso is the
 * vDSO image (AT_SYSINFO_EHDR). */
static uint64_t build_stack(const struct boot_options *opts, const struct elf_image *img, uint64_t interp_base,
			    uint64_t vdso, const char *execfn)
{
	struct stack_builder sb = {USER_STACK_TOP, false};
	uint64_t argv[MAX_ARGS], envp[MAX_ENV + 1];
	int envc = 0;
	uint64_t execfn_addr = push_string(&sb, execfn);
	for (int i = opts->argc - 1; i >= 0; i--)
		argv[i] = push_string(&sb, opts->argv[i]);
	for (int i = opts->envc - 1; i >= 0; i--)
		envp[envc++] = push_string(&sb, opts->env[i]);
	uint64_t platform = push_string(&sb, "x86_64");
	uint8_t random[16];
	random_bytes(random, sizeof(random));
	uint64_t random_addr = push_bytes(&sb, random, sizeof(random));

	uint32_t a, b, c, hwcap;
	cpuid(1, 0, &a, &b, &c, &hwcap);
	uint64_t auxv[][2] = {
	    {AT_PHDR, img->phdr_addr}, {AT_PHENT, img->phent},   {AT_PHNUM, img->phnum},
	    {AT_PAGESZ, PAGE_SIZE},    {AT_BASE, interp_base},             {AT_FLAGS, 0},
	    {AT_ENTRY, img->entry},    {AT_UID, 0},              {AT_EUID, 0},
	    {AT_GID, 0},               {AT_EGID, 0},             {AT_SECURE, 0},
	    {AT_RANDOM, random_addr},  {AT_HWCAP, hwcap},        {AT_HWCAP2, cpu.user_fsgsbase ? 2 : 0},
	    {AT_CLKTCK, 100},          {AT_PLATFORM, platform},  {AT_EXECFN, execfn_addr},
	    {AT_SYSINFO_EHDR, vdso},   {AT_NULL, 0},
	};
	/* argc, argv[], NULL, envp[], NULL, auxv: the final RSP must be 16-byte aligned. */
	size_t words = 1 + opts->argc + 1 + envc + 1 + ARRAY_SIZE(auxv) * 2;
	sb.sp = ALIGN_DOWN(sb.sp - words * 8, 16) + words * 8;
	push_bytes(&sb, auxv, sizeof(auxv));
	static_assert(sizeof(auxv) <= sizeof(current->auxv), "auxv does not fit in struct process");
	memcpy(current->auxv, auxv, sizeof(auxv));
	current->auxv_bytes = sizeof(auxv);
	uint64_t zero = 0;
	push_bytes(&sb, &zero, 8);
	for (int i = 0; i < envc; i++) /* envp was collected backwards */
		push_bytes(&sb, &envp[i], 8);
	push_bytes(&sb, &zero, 8);
	push_bytes(&sb, argv, opts->argc * 8);
	uint64_t argc = opts->argc;
	push_bytes(&sb, &argc, 8);
	return sb.failed ? 0 : sb.sp;
}

/* Loads the interpreter a dynamically linked program names (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2),
 * looked up like any path (relative ones from the working directory). Exits with 127 when it cannot. */
static void load_interpreter(const char *program, const char *interp_path, struct ramfs_node *cwd,
			     struct elf_image *out)
{
	int error = 0;
	struct ramfs_node *node = ramfs_lookup(interp_path, cwd, true, &error);
	if (!node || (node->mode & S_IFMT) != S_IFREG) {
		kprintf("osv: cannot run %s: its interpreter %s is %s\n", program, interp_path,
			node ? "not a regular file" : "not in the image (add it, e.g. with --add)");
		vm_exit(EXIT_CANNOT_START);
	}
	static char label[4200]; /* how elf_load names it in messages */
	snprintf(label, sizeof(label), "%s (the interpreter of %s)", interp_path, program);
	if (elf_load(current->as, label, node, true, out) < 0)
		vm_exit(EXIT_CANNOT_START);
}

NORETURN void exec_app(const struct boot_options *opts)
{
	const char *path = opts->argv[0];
	int error = 0;
	struct ramfs_node *cwd = ramfs_root();
	if (opts->cwd) {
		cwd = ramfs_lookup(opts->cwd, NULL, true, &error);
		if (!cwd || (cwd->mode & S_IFMT) != S_IFDIR) {
			kprintf("osv: cannot use --cwd=%s: no such directory in the image\n", opts->cwd);
			vm_exit(EXIT_CANNOT_START);
		}
	}
	struct ramfs_node *node = ramfs_lookup(path, cwd, true, &error);
	if (!node) {
		kprintf("osv: cannot run %s: %s\n", path,
			error == -ENOTDIR ? "a path component is not a directory"
			: error == -ELOOP ? "too many levels of symbolic links"
					  : "no such file in the image");
		vm_exit(EXIT_CANNOT_START);
	}
	if ((node->mode & S_IFMT) != S_IFREG) {
		kprintf("osv: cannot run %s: not a regular file\n", path);
		vm_exit(EXIT_CANNOT_START);
	}
	static char exe_path[4096]; /* absolute, as /proc/self/exe shows it */
	if (ramfs_path(node, exe_path, sizeof(exe_path)) < 0) {
		kprintf("osv: cannot run %s: path too long\n", path);
		vm_exit(EXIT_CANNOT_START);
	}
	struct process *p = &the_process;
	list_init(&p->shared_pending.queued);
	p->as = as_create();
	if (!p->as)
		panic("out of memory creating the address space");
	as_activate(p->as);
	current = p;
	p->exe_path = exe_path;
	p->exe = node;
	p->cwd = cwd;
	ramfs_node_get(cwd);
	p->boot = opts;
	console_files_init();
	procfs_set_exe(exe_path);
	memcpy(p->hostname, "osv", 4);
	struct elf_image img, interp = {0};
	if (elf_load(p->as, path, node, false, &img) < 0)
		vm_exit(EXIT_CANNOT_START);
	if (img.interp)
		load_interpreter(path, img.interp, cwd, &interp);
	p->load_bias = img.load_bias;
	p->as->brk_start = p->as->brk = img.end;
	if (as_add_vma(p->as, USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_TOP, PROT_READ | PROT_WRITE, "[stack]") < 0)
		panic("cannot map the stack");
	uint64_t vdso = vdso_map(p->as);
	if (!vdso)
		panic("cannot map the vDSO");
	uint64_t sp = build_stack(opts, &img, interp.base, vdso, path);
	if (!sp) {
		kprintf("osv: cannot run %s: arguments and environment do not fit on the stack\n", path);
		vm_exit(EXIT_CANNOT_START);
	}
	clock_calibrate_if_free();
	bootchart_mark("app loaded");
	p->start_tsc = rdtsc(); /* converted when asked: reading the clock now could calibrate it at boot */
	if (opts->bootchart)
		bootchart_print();
	struct thread *first = thread_create();
	if (!first || first->tid != 1)
		panic("cannot create the first thread");
	fpu_init_state(first->fpu); /* Linux's initial FPU state */
	struct trap_frame frame = {
	    .rip = img.interp ? interp.entry : img.entry,
	    .cs = USER_CS,
	    .rflags = RFLAGS_IF | 0x2,
	    .rsp = sp,
	    .ss = USER_DS,
	};
	thread_start_user(first, &frame);
	sched_start();
}
