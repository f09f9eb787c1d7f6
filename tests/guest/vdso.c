/* The vDSO as programs find it: AT_SYSINFO_EHDR points at an ELF shared object (one PT_LOAD, soname
 * linux-vdso.so.1) exporting __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time and __vdso_getcpu
 * with version LINUX_2.6 (looked up here through its own dynamic section, as the C library does). Each
 * is called directly and checked against the real syscall around it: times in order, the same CPU,
 * errors passed through. /proc/self/maps names [vdso] and [vvar]. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct vdso {
	uintptr_t bias;
	const Elf64_Sym *symbols;
	const char *strings;
	const Elf64_Word *hash; /* DT_HASH: nbucket, nchain, ... (the chain count is the symbol count) */
	const Elf64_Versym *versym;
	const Elf64_Verdef *verdef;
	const char *soname;
	int loads;
};

static int open_vdso(struct vdso *v)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_type != ET_DYN)
		return 0;
	const Elf64_Phdr *ph = (const void *)((const char *)eh + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	memset(v, 0, sizeof(*v));
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			if (!v->loads++)
				v->bias = (uintptr_t)eh + ph[i].p_offset - ph[i].p_vaddr;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)((const char *)eh + ph[i].p_offset);
		}
	}
	uintptr_t soname = 0;
	for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(v->bias + dyn->d_un.d_ptr);
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			v->symbols = p;
			break;
		case DT_STRTAB:
			v->strings = p;
			break;
		case DT_HASH:
			v->hash = p;
			break;
		case DT_VERSYM:
			v->versym = p;
			break;
		case DT_VERDEF:
			v->verdef = p;
			break;
		case DT_SONAME:
			soname = dyn->d_un.d_val;
			break;
		}
	}
	if (!v->symbols || !v->strings || !v->hash)
		return 0;
	v->soname = v->strings + soname;
	return 1;
}

/* The version name of symbol i, from DT_VERSYM and DT_VERDEF. */
static const char *version_of(const struct vdso *v, size_t i)
{
	if (!v->versym || !v->verdef)
		return "";
	Elf64_Half index = v->versym[i] & 0x7fff;
	for (const Elf64_Verdef *d = v->verdef;; d = (const void *)((const char *)d + d->vd_next)) {
		if (d->vd_ndx == index && !(d->vd_flags & VER_FLG_BASE)) {
			const Elf64_Verdaux *aux = (const void *)((const char *)d + d->vd_aux);
			return v->strings + aux->vda_name;
		}
		if (!d->vd_next)
			return "";
	}
}

static void *find(const struct vdso *v, const char *name, const char *version)
{
	for (Elf64_Word i = 0; i < v->hash[1]; i++) {
		const Elf64_Sym *s = &v->symbols[i];
		if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
		    strcmp(v->strings + s->st_name, name) == 0 && strcmp(version_of(v, i), version) == 0)
			return (void *)(v->bias + s->st_value);
	}
	return NULL;
}

static long long ns_of(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static struct timespec sys_clock(clockid_t clock)
{
	struct timespec t;
	syscall(SYS_clock_gettime, clock, &t);
	return t;
}

int main(void)
{
	struct vdso v;
	if (!open_vdso(&v)) {
		printf("no vDSO\n");
		return 1;
	}
	printf("vdso: soname=%s loads=%d\n", v.soname, v.loads);
	int (*vclock)(clockid_t, struct timespec *) = find(&v, "__vdso_clock_gettime", "LINUX_2.6");
	int (*vtimeofday)(struct timeval *, struct timezone *) = find(&v, "__vdso_gettimeofday", "LINUX_2.6");
	time_t (*vtime)(time_t *) = find(&v, "__vdso_time", "LINUX_2.6");
	long (*vgetcpu)(unsigned *, unsigned *, void *) = find(&v, "__vdso_getcpu", "LINUX_2.6");
	printf("symbols: clock_gettime=%d gettimeofday=%d time=%d getcpu=%d\n", vclock != NULL, vtimeofday != NULL,
	       vtime != NULL, vgetcpu != NULL);
	if (!vclock || !vtimeofday || !vtime || !vgetcpu)
		return 1;

	static const struct {
		clockid_t id;
		const char *name;
	} clocks[] = {{CLOCK_REALTIME, "REALTIME"},
		      {CLOCK_MONOTONIC, "MONOTONIC"},
		      {CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
		      {CLOCK_BOOTTIME, "BOOTTIME"},
		      {CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"}};
	for (size_t c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++) {
		int ordered = 1, ok = 1;
		for (int round = 0; round < 100; round++) {
			struct timespec before = sys_clock(clocks[c].id), during, after;
			ok &= vclock(clocks[c].id, &during) == 0;
			after = sys_clock(clocks[c].id);
			ordered &= ns_of(before) <= ns_of(during) && ns_of(during) <= ns_of(after);
		}
		printf("clock_gettime(%s): ok=%d between syscalls=%d\n", clocks[c].name, ok, ordered);
	}
	struct timespec t;
	printf("clock_gettime(bad clock)=%d\n", vclock(12345, &t));
	long long last = 0;
	int monotonic = 1;
	for (int i = 0; i < 100000; i++) {
		vclock(CLOCK_MONOTONIC, &t);
		monotonic &= ns_of(t) >= last;
		last = ns_of(t);
	}
	printf("monotonic over 100000 calls=%d\n", monotonic);

	struct timeval tv;
	struct timezone tz = {123, 456};
	struct timespec before = sys_clock(CLOCK_REALTIME);
	int r = vtimeofday(&tv, &tz);
	struct timespec after = sys_clock(CLOCK_REALTIME);
	long long us = tv.tv_sec * 1000000LL + tv.tv_usec;
	printf("gettimeofday=%d between syscalls=%d timezone=%d,%d\n", r, ns_of(before) / 1000 <= us && us <= ns_of(after) / 1000,
	       tz.tz_minuteswest, tz.tz_dsttime);
	time_t from_syscall = syscall(SYS_time, NULL), stored = 0, returned = vtime(&stored);
	printf("time: same as syscall=%d stored=%d\n", returned - from_syscall <= 1 && returned >= from_syscall,
	       stored == returned);

	long g = 0;
	int same = 0;
	for (int tries = 0; tries < 10 && !same; tries++) { /* Linux may move us to another CPU in between */
		unsigned cpu = 99, node = 99, sys_cpu = 98, sys_node = 98;
		g |= vgetcpu(&cpu, &node, NULL);
		syscall(SYS_getcpu, &sys_cpu, &sys_node, NULL);
		same = cpu == sys_cpu && node == sys_node;
	}
	printf("getcpu=%ld same as syscall=%d\n", g, same);

	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	int vdso_found = 0, vvar_found = 0;
	while (maps && fgets(line, sizeof(line), maps)) {
		char perms[8];
		sscanf(line, "%*s %7s", perms);
		if (strstr(line, "[vdso]"))
			vdso_found = strcmp(perms, "r-xp") == 0 ? 1 : -1;
		if (strstr(line, "[vvar]"))
			vvar_found = strcmp(perms, "r--p") == 0 ? 1 : -1;
	}
	printf("maps: [vdso] r-xp=%d [vvar] r--p=%d\n", vdso_found, vvar_found);

	/* Pages of the vDSO dropped by MADV_DONTNEED come back as they were. */
	uintptr_t text = (uintptr_t)vclock & ~(uintptr_t)4095;
	int dropped = madvise((void *)text, 4096, MADV_DONTNEED);
	struct timespec again;
	printf("dontneed on the vDSO=%d still works=%d\n", dropped, vclock(CLOCK_MONOTONIC, &again) == 0 && ns_of(again) >= last);
	return 0;
}
