/* Kernel tunables and memory layout constants, in one place. */
#pragma once

#define KERNEL_VMA 0xffffffff80000000UL   /* higher-half kernel image (links at +1 MiB) */
#define DIRECT_MAP 0xffff800000000000UL   /* all physical memory mapped here */
#define USER_TOP 0x00007ffffffff000UL     /* first address above user space */
#define USER_STACK_TOP 0x00007ffffffde000UL
#define USER_STACK_SIZE (8UL << 20)        /* RLIMIT_STACK the app sees */
#define USER_MMAP_TOP 0x00007f0000000000UL /* mmap hands out addresses below this, top down */
#define USER_PIE_BASE 0x0000555555554000UL /* load address of ET_DYN programs */
#define KERNEL_STACK_SIZE (32UL << 10)
#define IST_STACK_SIZE (16UL << 10)
#define MAX_ARGS 256
#define MAX_ENV 256
#define MAX_MEM_EXTENTS 128
#define MAX_FDS 16384                 /* descriptor table size: the hard RLIMIT_NOFILE (the soft one is 1024) */
#define MAX_POSIX_TIMERS 64           /* timer_create timers of the process (linux/sys_timer.c) */
#define PIPE_DEFAULT_SIZE (64 * 1024) /* a new pipe's buffer, as Linux (linux/sys_pipe.c) */
#define MAX_TMPFS_MOUNTS 16           /* --mount-fs=tmpfs,/path options */
#define FAULT_AROUND_PAGES 16 /* pages mapped per page fault */
#define SCHED_SLICE_NS 10000000UL   /* a thread runs this long before others waiting get the CPU (nice 0) */
#define SCHED_MIN_SLICE_NS 1000000UL  /* the slice of the nicest threads (nice 10 and above) */
#define SCHED_MAX_SLICE_NS 100000000UL /* ... and of the least nice (nice -10 and below) */
#define SCHED_WAKEUP_NS 2000000UL   /* ... but a thread just woken waits at most this long for a busy one */
#define DEFERRED_RETRY_NS 1000000UL /* deferred work still due when the app got the CPU runs this soon */
#define MAX_VIRTIO_MMIO 32           /* virtio_mmio.device= words taken from the command line */
#define MAX_PCI_DEVICES 64
#define VIRTQUEUE_MAX_SIZE 256        /* descriptors per virtqueue (devices may offer more) */
#define DEVICE_TIMEOUT_NS 5000000000UL /* a device that does not answer within this is declared broken */
#define DEVICE_POLL_NS 1000000UL      /* waits re-check the device this often in case an interrupt is lost */
#define DEVICE_SPIN_TSC 4000000UL     /* TSC ticks (~1-2 ms) a wait spins before the clock is calibrated */
#define BCACHE_BLOCKS 256             /* 4 KiB blocks kept by the block cache (drivers/block_cache.c) */
#define ROOT_DISK_PRELOAD_MAX (6UL << 20) /* a boot disk this small (and under 1/8 of free memory) is read whole */

/* Networking (net/, drivers/virtio_net.c). */
#define NET_MAX_INTERFACES 4
#define NET_RX_BUFFERS 256            /* receive buffers posted per virtio-net device (2 KiB each) */
#define NET_RX_BUDGET 256             /* frames taken per poll before timers and the app get a turn */
#define NET_TX_BACKLOG 512            /* frames waiting for room in a full transmit ring */
#define VIRTIO_NET_TX_RENOTIFY_NS 100000000UL /* frames left untaken this long: notify the device again */
#define NET_POLL_ROUNDS 64            /* net_poll rounds while loopback traffic keeps coming */
#define NET_WAIT_RECHECK_NS 1000000000UL /* blocking socket calls re-check this often without interrupts */
#define NET_POLLED_WAIT_NS 1000000UL  /* ... and this often when a NIC has no interrupt */
#define NET_EXIT_DRAIN_NS 5000000000UL /* exit waits this long at most for TCP to deliver what was written */
#define LOOPBACK_MTU 16384
#define LOOPBACK_QUEUE_MAX 1024
#define ARP_CACHE_SIZE 64
#define ARP_PENDING_MAX 4             /* packets held per address being resolved */
#define ARP_RETRY_NS 1000000000UL
#define ARP_RETRIES 3
#define ARP_REACHABLE_NS 60000000000UL /* a reply is trusted this long, then re-asked */
#define IP_REASS_MAX_DATAGRAMS 16
#define IP_REASS_MAX_BYTES (256U << 10)
#define IP_REASS_TIMEOUT_NS 30000000000UL
#define EPHEMERAL_PORT_LOW 32768      /* Linux's ip_local_port_range */
#define EPHEMERAL_PORT_HIGH 60999
#define UDP_DEFAULT_BUF 212992        /* SO_RCVBUF/SO_SNDBUF of UDP sockets (Linux's default) */
#define TCP_DEFAULT_RCVBUF 131072     /* Linux's tcp_rmem default */
#define TCP_DEFAULT_SNDBUF 131072
#define TCP_DEFAULT_MSS 536           /* RFC 9293 §3.7.1, until the peer says */
#define TCP_MAX_BACKLOG 4096          /* SOMAXCONN */
#define TCP_MAX_HALF_OPEN 256         /* SYN_RECEIVED children per listener (also <= 2 x backlog) */
#define TCP_OOO_MAX_SEGMENTS 64       /* out-of-order segments kept per connection */
#define TCP_MAX_CWND (16U << 20)
#define TCP_DUPACK_THRESHOLD 3
#define TCP_RTO_INITIAL_NS 1000000000UL /* RFC 6298 §2.1 */
#define TCP_RTO_MIN_NS 200000000UL    /* Linux's 200 ms, below RFC 6298's 1 s (allowed by §2.4) */
#define TCP_RTO_MAX_NS 120000000000UL
#define TCP_CLOCK_GRANULARITY_NS 1000000UL
#define TCP_PERSIST_MIN_NS 200000000UL
#define TCP_PERSIST_MAX_NS 60000000000UL
#define TCP_SYN_RETRIES 6             /* Linux's tcp_syn_retries: about 127 s */
#define TCP_SYNACK_RETRIES 5
#define TCP_RETRIES 15                /* Linux's tcp_retries2 */
#define TCP_DELACK_NS 40000000UL      /* Linux's minimum delayed-ACK time */
#define TCP_TIME_WAIT_NS 60000000000UL /* 2 MSL, as Linux */
#define TCP_FIN_WAIT_2_NS 60000000000UL /* Linux's tcp_fin_timeout for orphans */
#define TCP_DEFAULT_KEEPIDLE_S 7200
#define TCP_DEFAULT_KEEPINTVL_S 75
#define TCP_DEFAULT_KEEPCNT 9
#define DHCP_RETRY_NS 1000000000UL    /* first retransmission; doubles */
#define DHCP_RETRIES 4
#define DHCP_BOOT_NS 10000000000UL    /* boot waits this long at most for a lease */
