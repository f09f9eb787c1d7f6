/* Open files and file descriptors. A struct file is what a descriptor refers to: an object with ops
 * (console, ramfs file or directory, socket (net/socket.c), pipe, eventfd, signalfd, timerfd, epoll
 * (linux/sys_*.c)). Implemented in fs/file.c; the syscalls that use them are in linux/sys_file.c. */
#pragma once
#include "poll.h"
#include "types.h"

struct file;
struct ramfs_node;

/* The stat layout of x86-64 Linux. */
struct linux_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec;
	int64_t unused[3];
};

/* What each kind of file does. Buffers are user addresses; NULL ops mean "not supported". */
struct file_ops {
	long (*read)(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos);
	long (*write)(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos);
	void (*stat)(struct file *f, struct linux_stat *st);
	/* Fills user_buf with linux_dirent64 records from *pos on; bytes written, 0 at the end. */
	long (*getdents)(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos);
	long (*ioctl)(struct file *f, uint64_t cmd, uint64_t arg);
	/* Readiness for poll/select/epoll: POLL* bits. NULL: always readable and writable (regular files). */
	uint32_t (*poll)(struct file *f);
	/* A counter that changes whenever readiness may have changed (epoll's EPOLLET); NULL: never. */
	uint32_t (*event_seq)(struct file *f);
	/* The last reference is gone (sockets: close the connection and free the socket). */
	void (*release)(struct file *f);
	bool seekable;
	const char *anon_name; /* an anonymous inode's kind, as /proc/self/fd names it ("eventfd", ...) */
};



struct file {
	const struct file_ops *ops;
	int refcount;
	uint32_t flags; /* O_ACCMODE, O_APPEND, O_NONBLOCK... as given to open */
	uint64_t pos;
	struct ramfs_node *node; /* for files of the ramfs, NULL otherwise */
	void *private_data;      /* the object behind other kinds of files (a socket) */
};

#define O_ACCMODE 3
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define O_TMPFILE 020200000

struct file *file_new(const struct file_ops *ops, uint32_t flags);
void file_put(struct file *f);
/* file_ops.stat of files without a node of their own (epoll, timerfd, eventfd, signalfd): Linux's
 * anonymous inode. */
void anon_inode_stat(struct file *f, struct linux_stat *st);
/* What poll reports for f (ops->poll, or readable and writable). */
uint32_t file_poll(struct file *f);
/* Called with each file whose last reference goes, before it is released (epoll forgets it). */
void file_set_close_hook(void (*hook)(struct file *f));

/* The descriptor table of the process. */
int fd_install(struct file *f, bool cloexec, int lowest);
/* A new file of ops holding data, at the lowest free descriptor: the descriptor, -EMFILE (the file was
 * made and released again, data with it through ops->release), or -ENOMEM (no file: data is still the
 * caller's to free). */
int fd_install_new(const struct file_ops *ops, uint32_t flags, void *data, bool cloexec);
/* setrlimit(RLIMIT_NOFILE): fd_install gives EMFILE from this descriptor number on (at most MAX_FDS). */
void fd_set_limit(uint64_t limit);
/* A further descriptor (the lowest free one from lowest on) for an open file: dup, F_DUPFD. */
int fd_install_another(struct file *f, bool cloexec, int lowest);
/* The file open on fd (NULL if none), kept alive until the running syscall ends. */
struct file *fd_get(int fd);
/* The file open on fd (NULL if none), not kept alive: for listing the table (/proc/self/fd). */
struct file *fd_peek(int fd);
/* What /proc/self/fd shows for f: its path, or "pipe:[ino]", "socket:[ino]", "anon_inode:[kind]". */
void file_describe(struct file *f, char *buf, size_t size);
struct thread;
/* Drops the references fd_get took for t's syscall (return_to_user). */
void file_return_borrowed(struct thread *t);
int fd_close(int fd);
bool fd_cloexec(int fd);
void fd_set_cloexec(int fd, bool on);
/* Makes newfd refer to oldfd's file (closing what newfd had). */
int fd_dup_to(int oldfd, int newfd, bool cloexec);

/* fcntl's F_GETPIPE_SZ and F_SETPIPE_SZ (linux/sys_pipe.c); -EBADF when f is not a pipe. */
long pipe_fcntl(struct file *f, uint64_t cmd, uint64_t arg);

/* The console (fds 0, 1 and 2 at start). */
extern const struct file_ops console_ops;
void console_files_init(void);
/* Adds /dev/null, /dev/zero, ... to the ramfs. */
void devices_init(void);
/* Adds /proc and /sys files to the ramfs; procfs_set_exe() adds /proc/self/exe once the program is known. */
void procfs_init(void);
void procfs_set_exe(const char *path);
/* Opens a ramfs node as a file (regular files and directories). */
struct file *ramfs_open_file(struct ramfs_node *node, uint32_t flags);
void ramfs_stat(const struct ramfs_node *node, struct linux_stat *st);
