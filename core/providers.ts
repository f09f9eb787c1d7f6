/**
 * The contracts of the four provider families: filesystems, hypervisors, image formats and runtimes.
 *
 * A plugin lists the providers it brings; the registry looks them up by `name` (e.g. `--fs ramfs`).
 *
 * @module
 */

import type { BuildConfig } from "./hooks.ts";
import type { Manifest } from "./manifest.ts";

/** Plugin-agnostic services a provider may use (logging with the plugin's name). */
export interface ProviderContext {
  /** Name of the plugin that registered the provider. */
  readonly plugin: string;
  /** A warning line on stderr, prefixed with the plugin's name. */
  warn(message: string): void;
}

/** What a runtime's `collect` gets besides the app: the plugin context and the build's settings. */
export interface RuntimeContext extends ProviderContext {
  /** The resolved build settings (e.g. `libraries`, the extra shared libraries to collect). */
  readonly config: BuildConfig;
}

/** A filesystem image with its size known before its bytes are produced (the header needs it first). */
export interface FilesystemImage {
  /** Exact number of bytes `stream` yields. */
  size: number;
  /** The bytes, produced lazily. */
  stream: ReadableStream<Uint8Array>;
}

/** One entry of a guest filesystem, as `osv inspect --files` lists it. */
export interface ImageFile {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
}

/** Random access to a filesystem's bytes (offsets from its start; fewer bytes only at the end). */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** Serialises a manifest into a filesystem the kernel can mount. */
export interface FilesystemProvider {
  /** Short name used on the command line and in the image header (at most 15 bytes), e.g. `ramfs`. */
  name: string;
  /** Kernel features the filesystem needs, e.g. `fs/ramfs`. */
  kernelFeatures?: readonly string[];
  /**
   * How the kernel gets the filesystem at boot: handed over in memory as the initrd (ramfs), or read
   * from the image itself, attached as a virtio-blk disk (default).
   */
  source?: "initrd" | "disk";
  /** Builds the filesystem image from the manifest. */
  write(manifest: Manifest, ctx: ProviderContext): Promise<FilesystemImage>;
  /**
   * Lists the entries of a filesystem this provider wrote (for `osv inspect --files`).
   *
   * @throws Error saying what is wrong when the filesystem is corrupt
   */
  list?(read: ReadAt, size: number): Promise<ImageFile[]>;
}

/** A range of a virtual disk that holds data. */
export interface DiskExtent {
  /** Byte offset on the virtual disk. */
  offset: number;
  /** The bytes at `offset` (not modified after being handed over; may contain zeros). */
  data: Uint8Array;
}

/**
 * A virtual disk given sparsely: its size and the ranges that hold data. Everything outside the extents
 * reads as zeros. Writers never allocate an all-zero cluster, even when it is given as data.
 */
export interface DiskSource {
  /** Virtual disk size in bytes. */
  readonly size: number;
  /** Data ranges in increasing offset order, not overlapping, inside `[0, size)`. Iterated once. */
  extents(): AsyncIterable<DiskExtent>;
}

/** A byte range of a disk. */
export interface DiskRange {
  offset: number;
  length: number;
}

/** Random access to the bytes of a disk, whatever its container format. */
export interface DiskReader {
  /** Virtual disk size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset` (zeros for holes); fewer only at the end of the disk. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Ranges that may hold data, in increasing order; everything else is zeros. A reader that cannot tell
   * (raw) lists the whole disk. Converting through this keeps sparse images sparse.
   */
  allocated(): AsyncIterable<DiskRange>;
  /**
   * Where `length` bytes at `offset` are stored uncompressed and contiguously in the container file, if
   * they are (for changing bytes in place, e.g. `osv image set-cmdline`); `undefined` otherwise.
   */
  locate?(offset: number, length: number): number | undefined;
  /** Releases the file. */
  close(): void;
}

/** Where a format writer puts the container file: positioned writes into a new, empty file. */
export interface ImageOutput {
  /** The file's base name (e.g. for the extent line of a VMDK descriptor). */
  readonly name: string;
  /** Writes `bytes` at byte `offset` of the file. */
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /** Sets the file's length (holes read as zeros). */
  truncate(size: number): Promise<void>;
}

/** A disk image container: raw, qcow2, vmdk, vdi. */
export interface ImageFormatProvider {
  /** Short name, e.g. `raw`, `vmdk-stream`. */
  name: string;
  /** The format's name for QEMU's `-drive format=` (default: `name`). */
  qemuFormat?: string;
  /** File name extensions without the dot, first one is the default, e.g. `["img", "raw"]`. */
  extensions: readonly string[];
  /** Whether the first bytes of a file (at least 4096, fewer if the file is shorter) are this format. */
  probe?(head: Uint8Array): boolean;
  /**
   * Writes the sparse disk `disk` as a container file into `out` (a new, empty file). Only clusters that
   * hold non-zero bytes are stored; formats that need their tables first lay them out from `disk.size`.
   */
  write(disk: DiskSource, out: ImageOutput, ctx: ProviderContext): Promise<void>;
  /**
   * Opens a file of this format for reading its virtual disk.
   *
   * @throws Error naming the file and what is wrong (bad magic, unsupported version, truncated file,
   *   tables or offsets past the end of the file)
   */
  open(path: string, ctx: ProviderContext): Promise<DiskReader>;
}

/** What a runtime produces from an app. */
export interface CollectedApp {
  /** Files of the app. */
  manifest: Manifest;
  /** Default command line (program path and arguments, OSv syntax). */
  cmdline: string;
  /** Name used for the default output file, e.g. `hello`. */
  name: string;
}

/** Turns an app (a host binary, a script, a directory) into files and a command line. */
export interface RuntimeProvider {
  /** Short name, e.g. `native`. */
  name: string;
  /** Kernel features the runtime needs. */
  kernelFeatures?: readonly string[];
  /** Whether this runtime recognises the app (used when `--runtime` is not given). */
  detect?(app: string, ctx: ProviderContext): Promise<boolean>;
  /** Collects the app's files. Throws a clear error when the app cannot be used. */
  collect(app: string, ctx: RuntimeContext): Promise<CollectedApp>;
}

/** Accelerators a hypervisor may run a guest with. */
export type Accel = "kvm" | "tcg";

/** Everything needed to boot one guest. */
export interface VmSpec {
  /** Kernel ELF path on the host. */
  kernelPath: string;
  /** Initial ramdisk (the ramfs cpio) path on the host, for filesystems handed over in memory. */
  initrdPath?: string;
  /** Disks, attached as virtio-blk devices in this order (the image itself first when it holds the root). */
  disks: readonly VmDisk[];
  /** Full kernel command line: kernel options, then the program path and arguments. */
  cmdline: string;
  /** Guest memory in MiB. */
  memMiB: number;
  /** Number of vCPUs. */
  cpus: number;
  /** Accelerator. */
  accel: Accel;
  /** File the guest's control channel (COM2) is written to; the kernel reports `exit N` there. */
  controlPath: string;
  /** Image name, for messages. */
  imageName: string;
  /**
   * Network cards, in guest order: the kernel names them `eth0`, `eth1`, ... in this order. Empty for a
   * VM without a network. A neutral description: each hypervisor plugin turns it into its own arguments.
   */
  nics: readonly VmNic[];
}

/** A port forward from the host into the guest, through a user-mode network. */
export interface PortForward {
  /** Transport protocol. */
  protocol: "tcp" | "udp";
  /** IPv4 address the host side listens on: `127.0.0.1` unless the user asked for another (`0.0.0.0`: all). */
  hostAddress: string;
  /** Host port, 1..65535. */
  hostPort: number;
  /** Guest address; absent: the address the guest gets by DHCP. */
  guestAddress?: string;
  /** Guest port, 1..65535. */
  guestPort: number;
}

/**
 * How a NIC reaches the outside.
 *
 * - `user`: the hypervisor's own user-mode network (NAT with a DHCP and DNS server built in; QEMU's
 *   slirp). `restrict` isolates the guest: it reaches nothing but the port forwards. Its addresses are
 *   slirp's (`userNetwork()` in core/net.ts), which `osv run` gives the guest on the kernel command line.
 * - `tap`: a tap device on the host, created (when missing) and put on `bridge` by `osv run` before the
 *   hypervisor starts; the hypervisor only opens it. `vhost`: the kernel's vhost-net moves the packets.
 */
export type NicBackend =
  | { kind: "user"; forwards: readonly PortForward[]; restrict: boolean }
  | { kind: "tap"; ifname: string; bridge: string | null; vhost: boolean };

/** A virtio-net card of a guest. */
export interface VmNic {
  /** MAC address, six lower-case hex pairs separated by colons (unicast). */
  mac: string;
  /** What the card is connected to. */
  backend: NicBackend;
}

/** A disk of a guest. */
export interface VmDisk {
  /** File on the host. */
  path: string;
  /** Container format as QEMU names it (`raw`, `qcow2`, `vmdk`, `vdi`). */
  format: string;
  /** Attach read-only (the image holding the root filesystem is never written). */
  readOnly: boolean;
}

/** Why a hypervisor cannot run here, or that it can. */
export type Availability = { ok: true } | { ok: false; reason: string };

/** Where the guest's console goes. */
export interface ConsoleIO {
  /** Where the guest console goes; `"inherit"` hands the hypervisor our own stdout (no copying). */
  stdout: WritableStream<Uint8Array> | "inherit";
  stderr: WritableStream<Uint8Array>;
}

/** A program invocation, for `--dry-run` and for spawning. */
export interface HostCommand {
  command: string;
  args: string[];
}

/** Boots guests. */
export interface HypervisorProvider {
  /** Short name, e.g. `qemu`. */
  name: string;
  /** Accelerators it supports, preferred first. */
  accels: readonly Accel[];
  /**
   * The NIC backends it can attach (`osv run` refuses others with a clear message). Absent: it does not
   * say, and every NIC is passed on.
   */
  nicBackends?: readonly NicBackend["kind"][];
  /** Whether it can run with `accel` here, and if not why. */
  available(accel: Accel): Promise<Availability>;
  /** The host command that would boot `spec`. */
  command(spec: VmSpec): HostCommand;
  /** Boots `spec` and resolves to the guest program's exit status. */
  launch(spec: VmSpec, io: ConsoleIO, ctx: ProviderContext): Promise<number>;
}
