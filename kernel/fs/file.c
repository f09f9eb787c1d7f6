/* File objects, the process's descriptor table, and the console as a file. Descriptors 0, 1 and 2
 * start on the console; stdin reads end-of-file (no console input yet). */
#include "fs/file.h"
#include "fs/ramfs.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "param.h"
#include "sched/sched.h"

#define CONSOLE_RDEV ((5 << 8) | 1) /* /dev/console */
#define TCGETS 0x5401
#define TIOCGWINSZ 0x5413

static struct file *fds[MAX_FDS];
static bool cloexec[MAX_FDS];
static int fd_limit = 1024; /* the soft RLIMIT_NOFILE: new descriptors stay below it */

void fd_set_limit(uint64_t limit) { fd_limit = limit < MAX_FDS ? (int)limit : MAX_FDS; }

struct file *file_new(const struct file_ops *ops, uint32_t flags)
{
	struct file *f = kzalloc(sizeof(*f));
	if (!f)
		return NULL;
	f->ops = ops;
	f->refcount = 1;
	f->flags = flags;
	return f;
}

static void (*close_hook)(struct file *f);

void file_set_close_hook(void (*hook)(struct file *f)) { close_hook = hook; }

void file_put(struct file *f)
{
	if (f && --f->refcount == 0) {
		if (close_hook)
			close_hook(f);
		if (f->ops->release)
			f->ops->release(f);
		if (f->node)
			ramfs_node_put(f->node);
		kfree(f);
	}
}

void anon_inode_stat(struct file *f, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 13; /* anon_inodefs, as Linux */
	st->ino = 1;
	st->nlink = 1;
	st->mode = 0600; /* an anonymous inode has no file type */
	st->blksize = 4096;
}

uint32_t file_poll(struct file *f)
{
	return f->ops->poll ? f->ops->poll(f) : POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

int fd_install_new(const struct file_ops *ops, uint32_t flags, void *data, bool cloexec)
{
	struct file *f = file_new(ops, flags);
	if (!f)
		return -ENOMEM;
	f->private_data = data;
	int fd = fd_install(f, cloexec, 0);
	if (fd < 0)
		file_put(f);
	return fd;
}

int fd_install(struct file *f, bool close_on_exec, int lowest)
{
	for (int fd = lowest < 0 ? 0 : lowest; fd < fd_limit; fd++) {
		if (!fds[fd]) {
			fds[fd] = f;
			cloexec[fd] = close_on_exec;
			return fd;
		}
	}
	return -EMFILE;
}

int fd_install_another(struct file *f, bool close_on_exec, int lowest)
{
	f->refcount++;
	int fd = fd_install(f, close_on_exec, lowest);
	if (fd < 0)
		file_put(f);
	return fd;
}

/* The file stays alive until the running syscall ends, whatever other threads do with the descriptor
 * meanwhile (a thread blocked in recv or epoll_wait while another closes the descriptor, as Linux
 * allows): the running thread holds a reference, dropped on its way back to user mode. Up to
 * THREAD_BORROWED_FILES files per syscall are held; scans over more descriptors (poll, select) do
 * not keep the file pointers across a wait anyway. */
static void borrow(struct file *f)
{
	struct thread *t = current_thread();
	if (t->idle)
		return;
	for (int i = 0; i < t->borrowed_count; i++)
		if (t->borrowed[i] == f)
			return;
	if (t->borrowed_count == THREAD_BORROWED_FILES)
		return;
	f->refcount++;
	t->borrowed[t->borrowed_count++] = f;
	t->work |= THREAD_WORK_FILES;
}

void file_return_borrowed(struct thread *t)
{
	while (t->borrowed_count)
		file_put(t->borrowed[--t->borrowed_count]);
}

struct file *fd_peek(int fd) { return fd >= 0 && fd < MAX_FDS ? fds[fd] : NULL; }

void file_describe(struct file *f, char *buf, size_t size)
{
	if (f->node) {
		long n = ramfs_path(f->node, buf, size);
		if (n < 0)
			snprintf(buf, size, "?");
		else if (f->node->flags & RAMFS_UNLINKED)
			snprintf(buf + n - 1, size - (size_t)(n - 1), " (deleted)");
		return;
	}
	struct linux_stat st;
	memset(&st, 0, sizeof(st));
	if (f->ops->stat)
		f->ops->stat(f, &st);
	if ((st.mode & S_IFMT) == S_IFIFO)
		snprintf(buf, size, "pipe:[%lu]", st.ino);
	else if ((st.mode & S_IFMT) == S_IFSOCK)
		snprintf(buf, size, "socket:[%lu]", st.ino);
	else if (f->ops == &console_ops)
		snprintf(buf, size, "/dev/console");
	else
		snprintf(buf, size, "anon_inode:[%s]", f->ops->anon_name ? f->ops->anon_name : "unknown");
}

struct file *fd_get(int fd)
{
	struct file *f = fd >= 0 && fd < MAX_FDS ? fds[fd] : NULL;
	if (f)
		borrow(f);
	return f;
}

int fd_close(int fd)
{
	struct file *f = fd >= 0 && fd < MAX_FDS ? fds[fd] : NULL;
	if (!f)
		return -EBADF;
	fds[fd] = NULL;
	file_put(f);
	return 0;
}

bool fd_cloexec(int fd) { return fd >= 0 && fd < MAX_FDS && fds[fd] && cloexec[fd]; }
void fd_set_cloexec(int fd, bool on)
{
	if (fd >= 0 && fd < MAX_FDS && fds[fd])
		cloexec[fd] = on;
}

int fd_dup_to(int oldfd, int newfd, bool close_on_exec)
{
	struct file *f = fd_get(oldfd);
	if (!f)
		return -EBADF;
	if (newfd < 0 || newfd >= MAX_FDS)
		return -EBADF;
	f->refcount++;
	if (fds[newfd])
		file_put(fds[newfd]);
	fds[newfd] = f;
	cloexec[newfd] = close_on_exec;
	return newfd;
}

/* ---- the console ---- */

static long console_file_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos) { return 0; }

static long console_file_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	char chunk[512];
	size_t done = 0;
	while (done < n) {
		size_t len = MIN(n - done, sizeof(chunk));
		if (copy_from_user(chunk, buf + done, len) < 0)
			return done ? (long)done : -EFAULT;
		console_write(chunk, len);
		done += len;
	}
	return (long)done;
}

static void console_file_stat(struct file *f, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 6;
	st->ino = 3;
	st->nlink = 1;
	st->mode = 0020000 | 0620; /* character device */
	st->rdev = CONSOLE_RDEV;
	st->blksize = 1024;
}

static long console_file_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	switch (cmd) {
	case TCGETS: {
		/* A serial terminal in its default (cooked) mode, as Linux sets it up. */
		struct {
			uint32_t iflag, oflag, cflag, lflag;
			uint8_t line, cc[19];
		} termios = {0x500, 0x5, 0xbf, 0x8a3b, 0, {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22}};
		return copy_to_user(arg, &termios, sizeof(termios));
	}
	case TIOCGWINSZ: {
		uint16_t winsize[4] = {24, 80, 0, 0};
		return copy_to_user(arg, winsize, sizeof(winsize));
	}
	default:
		return -ENOTTY;
	}
}

const struct file_ops console_ops = {
    .read = console_file_read,
    .write = console_file_write,
    .stat = console_file_stat,
    .ioctl = console_file_ioctl,
};

void console_files_init(void)
{
	static const uint32_t modes[3] = {O_RDONLY, O_WRONLY, O_WRONLY};
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = file_new(&console_ops, modes[fd]);
		if (!f || fd_install(f, false, fd) != fd)
			panic("cannot open the console");
	}
}
