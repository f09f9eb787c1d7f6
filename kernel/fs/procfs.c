/* /proc and /sys: files whose content is generated when read (the process's maps, cmdline, status...,
 * the machine's cpuinfo, meminfo, uptime...), and /etc/resolv.conf and /etc/hosts when the image has
 * none, added to the ramfs at boot by procfs_init(). Each read
 * generates the whole text and copies the requested slice, so contents are always current. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "boot.h"
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "net/net.h"
#include "param.h"
#include "sched/sched.h"

#define MAX_GENERATED (1 << 20)

/* Writes text into a growing buffer; generators only append. */
struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = t->len < t->cap ? t->cap - t->len : 0;
	int n = vsnprintf(t->buf + t->len, room, fmt, ap);
	va_end(ap);
	t->len += n; /* may pass cap: the caller retries with a bigger buffer */
}

static void put_bytes(struct text *t, const void *data, size_t n)
{
	if (t->len + n <= t->cap)
		memcpy(t->buf + t->len, data, n);
	t->len += n;
}

typedef void (*generator)(struct text *t);

static long generated_read(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos)
{
	generator gen = (generator)f->node->dev_data;
	for (size_t cap = 4096; cap <= MAX_GENERATED; cap *= 4) {
		struct text t = {kmalloc(cap), 0, cap};
		if (!t.buf)
			return -ENOMEM;
		gen(&t);
		if (t.len > cap) { /* did not fit: again, bigger */
			kfree(t.buf);
			continue;
		}
		long done = 0;
		if (*pos < t.len) {
			size_t len = MIN(n, t.len - *pos);
			done = copy_to_user(user_buf, t.buf + *pos, len) < 0 ? -EFAULT : (long)len;
			if (done > 0)
				*pos += done;
		}
		kfree(t.buf);
		return done;
	}
	return -EFBIG;
}

static void generated_stat(struct file *f, struct linux_stat *st)
{
	ramfs_stat(f->node, st);
	st->size = 0; /* as on Linux: the size of a /proc file is not known before reading it */
}

static const struct file_ops generated_ops = {.read = generated_read, .stat = generated_stat, .seekable = true};

/* ---- the process ---- */

/* One line per region, as Linux writes them: range, rights, file offset, device, inode, then from
 * column 73 the file's path or the region's name. */
static void gen_maps(struct text *t)
{
	static char path[4096];
	for (struct vma *v = current->as->vmas; v; v = v->next) {
		size_t line_start = t->len;
		const struct ramfs_node *file = v->file;
		put(t, "%08lx-%08lx %c%c%c%c %08lx 00:%02x %u", v->start, v->end, v->prot & PROT_READ ? 'r' : '-',
		    v->prot & PROT_WRITE ? 'w' : '-', v->prot & PROT_EXEC ? 'x' : '-', v->flags & VMA_SHARED ? 's' : 'p',
		    file ? v->offset : 0, file ? ramfs_device(file) : 0, file ? file->ino : 0);
		const char *name = v->name;
		if (file) {
			bool deleted = file->flags & RAMFS_UNLINKED; /* no longer in a directory: only its name */
			if (deleted)
				snprintf(path, sizeof(path), "/%s (deleted)", file->name);
			name = deleted || ramfs_path(file, path, sizeof(path)) > 0 ? path : file->name;
		}
		if (name) {
			while (t->len - line_start < 73) /* names start in column 73, as on Linux */
				put(t, " ");
			put(t, "%s", name);
		}
		put(t, "\n");
	}
}

static void put_words(struct text *t, char *const *words, int count)
{
	for (int i = 0; i < count; i++)
		put_bytes(t, words[i], strlen(words[i]) + 1);
}

static void gen_cmdline(struct text *t) { put_words(t, current->boot->argv, current->boot->argc); }
static void gen_environ(struct text *t) { put_words(t, current->boot->env, current->boot->envc); }
static void gen_auxv(struct text *t) { put_bytes(t, current->auxv, current->auxv_bytes); }

static const char *program_name(void)
{
	const char *slash = strchr(current->exe_path, '/'), *name = current->exe_path;
	while (slash) {
		name = slash + 1;
		slash = strchr(name, '/');
	}
	return name;
}

static uint64_t resident_kib(void)
{
	return (phys_total_bytes() - phys_free_bytes()) >> 10;
}

static void gen_status(struct text *t)
{
	uint64_t vm = 0;
	for (struct vma *v = current->as->vmas; v; v = v->next)
		vm += v->end - v->start;
	put(t, "Name:\t%.15s\nUmask:\t0022\nState:\tR (running)\nTgid:\t1\nNgid:\t0\nPid:\t1\nPPid:\t0\n", program_name());
	put(t, "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%d\nGroups:\t\n", MAX_FDS);
	put(t, "VmPeak:\t%8lu kB\nVmSize:\t%8lu kB\nVmRSS:\t%8lu kB\n", vm >> 10, vm >> 10, resident_kib());
	struct thread *self = current_thread();
	uint64_t ignored = 0, caught = 0;
	for (int sig = 1; sig <= NSIG; sig++) {
		uint64_t handler = current->actions[sig].handler;
		if (handler == SIG_IGN)
			ignored |= sigbit(sig);
		else if (handler != SIG_DFL)
			caught |= sigbit(sig);
	}
	put(t, "Threads:\t%d\nSigQ:\t0/63687\nSigPnd:\t%016lx\nShdPnd:\t%016lx\n", thread_count() + current->leader_exited,
	    self->sig.pending.mask, current->shared_pending.mask);
	put(t, "SigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n", self->sig.blocked, ignored, caught);
	put(t, "Cpus_allowed:\t1\nCpus_allowed_list:\t0\nvoluntary_ctxt_switches:\t%lu\nnonvoluntary_ctxt_switches:\t%lu\n",
	    self->voluntary_switches, self->involuntary_switches);
}

static uint64_t ticks(uint64_t ns) { return ns / 10000000; } /* USER_HZ = 100 */

static void gen_stat(struct text *t)
{
	uint64_t vm = 0, run = clock_monotonic_ns() - clock_tsc_to_ns(current->start_tsc);
	for (struct vma *v = current->as->vmas; v; v = v->next)
		vm += v->end - v->start;
	put(t, "1 (%.15s) R 0 1 1 0 -1 4194560 0 0 0 0 %lu 0 0 0 20 0 1 0 %lu %lu %lu ", program_name(), ticks(run),
	    ticks(clock_tsc_to_ns(current->start_tsc)), vm, resident_kib() / 4);
	put(t, "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
}

static void gen_mounts(struct text *t)
{
	put(t, "rootfs / %s ro,relatime 0 0\nproc /proc proc ro,relatime 0 0\nsysfs /sys sysfs ro,relatime 0 0\n",
	    ramfs_root_type());
	put(t, "devfs /dev devfs rw,relatime 0 0\n");
}

/* ---- the machine ---- */

static void gen_cpuinfo(struct text *t)
{
	uint32_t a, b, c, d, vendor[4] = {0}, brand[13] = {0};
	cpuid(0, 0, &a, &vendor[0], &vendor[2], &vendor[1]);
	for (uint32_t leaf = 0; leaf < 3; leaf++)
		cpuid(0x80000002 + leaf, 0, &brand[leaf * 4], &brand[leaf * 4 + 1], &brand[leaf * 4 + 2],
		      &brand[leaf * 4 + 3]);
	cpuid(1, 0, &a, &b, &c, &d);
	uint64_t mhz = clock_tsc_hz() / 1000000;
	put(t, "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n", (char *)vendor,
	    ((a >> 8) & 0xf) + ((a >> 20) & 0xff), ((a >> 4) & 0xf) | ((a >> 12) & 0xf0));
	put(t, "model name\t: %s\nstepping\t: %u\ncpu MHz\t\t: %lu.000\n", (char *)brand, a & 0xf, mhz);
	put(t, "physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\napicid\t\t: 0\n");
	static const char *const edx_flags[32] = {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic",
						  NULL,  "sep", "mtrr", "pge", "mca", "cmov", "pat", "pse36", NULL,
						  "clflush", NULL, NULL, NULL, "mmx", "fxsr", "sse", "sse2", NULL, "ht"};
	static const char *const ecx_flags[32] = {"pni", "pclmulqdq", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
						  "ssse3", NULL, NULL, "fma", "cx16", NULL, NULL, NULL, "pcid",
						  NULL, "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt", NULL, "aes",
						  "xsave", NULL, "avx", "f16c", "rdrand", "hypervisor"};
	put(t, "flags\t\t:");
	for (int i = 0; i < 32; i++)
		if ((d >> i & 1) && edx_flags[i])
			put(t, " %s", edx_flags[i]);
	for (int i = 0; i < 32; i++)
		if ((c >> i & 1) && ecx_flags[i] && !(i == 26 && cpu.pvm_safe) && !(i == 28 && cpu.pvm_safe))
			put(t, " %s", ecx_flags[i]);
	put(t, "\nbogomips\t: %lu.00\nclflush size\t: 64\naddress sizes\t: 48 bits physical, 48 bits virtual\n\n",
	    mhz * 2);
}

static void gen_meminfo(struct text *t)
{
	uint64_t total = phys_total_bytes() >> 10, free = phys_free_bytes() >> 10;
	put(t, "MemTotal:       %8lu kB\nMemFree:        %8lu kB\nMemAvailable:   %8lu kB\n", total, free, free);
	put(t, "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n");
	put(t, "SwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n");
	put(t, "HugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB\n");
}

static void gen_uptime(struct text *t)
{
	uint64_t ns = clock_monotonic_ns();
	put(t, "%lu.%02lu 0.00\n", ns / 1000000000, ns / 10000000 % 100);
}

static void gen_machine_stat(struct text *t)
{
	uint64_t up = ticks(clock_monotonic_ns());
	put(t, "cpu  %lu 0 0 0 0 0 0 0 0 0\ncpu0 %lu 0 0 0 0 0 0 0 0 0\n", up, up);
	put(t, "intr 0\nctxt 0\nbtime %lu\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n",
	    (clock_realtime_ns() - clock_monotonic_ns()) / 1000000000);
}

static void gen_loadavg(struct text *t) { put(t, "0.00 0.00 0.00 1/1 1\n"); }
static void gen_version(struct text *t) { put(t, "Linux version 6.1.0-osv (%s) #1 SMP\n", OSV_VERSION); }
static void gen_filesystems(struct text *t) { put(t, "nodev\tramfs\n\trofs\nnodev\ttmpfs\nnodev\tproc\nnodev\tsysfs\nnodev\tdevfs\n"); }
static void gen_cpu_list(struct text *t) { put(t, "0\n"); }

/* The resolver's configuration as DHCP or --nameserver left it (read when the app resolves a name). */
static void gen_resolv_conf(struct text *t)
{
	put(t, "# generated by the osv kernel from DHCP or --nameserver\n");
	for (int i = 0; i < net_config.nameserver_count; i++) {
		char a[16];
		put(t, "nameserver %s\n", ip_format(net_config.nameservers[i], a));
	}
	if (net_config.domain[0])
		put(t, "search %s\n", net_config.domain);
}

static void gen_hosts(struct text *t) { put(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"); }

/* /proc/1/fd: one symlink per open descriptor, remade whenever the directory is looked in. Made in
 * descending order, so that a listing (newest entry first) is in ascending order as on Linux. */
static void refresh_fds(struct ramfs_node *dir)
{
	while (dir->children)
		tmpfs_remove(dir->children);
	for (int fd = MAX_FDS - 1; fd >= 0; fd--) {
		struct file *f = fd_peek(fd);
		if (!f)
			continue;
		char name[16], target[512];
		snprintf(name, sizeof(name), "%d", fd);
		file_describe(f, target, sizeof(target));
		struct ramfs_node *link;
		if (tmpfs_create(dir, name, S_IFLNK | 0700, target, &link) < 0)
			return; /* out of memory: a partial listing */
		link->flags &= ~RAMFS_WRITABLE; /* not removable by the app */
	}
}

void procfs_init(void)
{
	static const struct {
		const char *path;
		generator gen;
	} files[] = {
	    {"/proc/1/maps", gen_maps},
	    {"/proc/1/cmdline", gen_cmdline},
	    {"/proc/1/environ", gen_environ},
	    {"/proc/1/auxv", gen_auxv},
	    {"/proc/1/status", gen_status},
	    {"/proc/1/stat", gen_stat},
	    {"/proc/1/mounts", gen_mounts},
	    {"/proc/cpuinfo", gen_cpuinfo},
	    {"/proc/meminfo", gen_meminfo},
	    {"/proc/stat", gen_machine_stat},
	    {"/proc/uptime", gen_uptime},
	    {"/proc/loadavg", gen_loadavg},
	    {"/proc/version", gen_version},
	    {"/proc/mounts", gen_mounts},
	    {"/proc/filesystems", gen_filesystems},
	    {"/sys/devices/system/cpu/online", gen_cpu_list},
	    {"/sys/devices/system/cpu/possible", gen_cpu_list},
	    {"/sys/devices/system/cpu/present", gen_cpu_list},
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (!ramfs_add_special(files[i].path, &generated_ops, (const void *)files[i].gen))
			panic("cannot add %s", files[i].path);
	if (!ramfs_add_generated_dir("/proc/1/fd", refresh_fds))
		panic("cannot add /proc/1/fd");
	if (!ramfs_add_symlink("/proc/self", "1"))
		panic("cannot add /proc/self");
	int error;
	ramfs_lookup("/proc", NULL, false, &error)->dev = RAMFS_DEV_PROC;
	ramfs_lookup("/sys", NULL, false, &error)->dev = RAMFS_DEV_SYS;
	/* The network's name files, unless the image brings its own. */
	if (!ramfs_lookup("/etc/resolv.conf", NULL, false, &error))
		ramfs_add_special("/etc/resolv.conf", &generated_ops, (const void *)gen_resolv_conf);
	if (!ramfs_lookup("/etc/hosts", NULL, false, &error))
		ramfs_add_special("/etc/hosts", &generated_ops, (const void *)gen_hosts);
}

void procfs_set_exe(const char *path)
{
	if (!ramfs_add_symlink("/proc/1/exe", path))
		panic("cannot add /proc/1/exe");
}
