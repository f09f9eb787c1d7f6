/**
 * What the QEMU-based hypervisors share: the argv, availability checks, launching with the console
 * streamed through, KVM internal error detection and decoding the guest's exit status.
 *
 * @module
 */

import type { Accel, Availability, ConsoleIO, HostCommand, NicBackend, VmSpec } from "../core/api.ts";
import { RunError } from "../core/errors.ts";
import { findExecutable, probeKvm } from "../core/host.ts";
import { userNetwork } from "../core/net.ts";
import { osvCacheDir } from "../core/cachedir.ts";
import { AIO_CACHE_FILE, aioDriveOptions, ioUringFailure, QEMU_AIO_ENV, qemuAio, settleQemuAio } from "./_qemu_aio.ts";

/** Environment variable naming the QEMU binary (tests point it at a fake). */
export const QEMU_ENV = "OSV_QEMU";

/** The QEMU binary: `$OSV_QEMU` or `qemu-system-x86_64` from PATH. */
export function qemuBinary(): string {
  return Deno.env.get(QEMU_ENV) || "qemu-system-x86_64";
}

/** I/O port of `isa-debug-exit`; the kernel writes `status & 0x7f` there to stop QEMU. */
export const DEBUG_EXIT_PORT = "0xf4";

/**
 * CPU model under KVM. kvm_pvm hosts refuse QEMU's write of IA32_ARCH_CAPABILITIES (MSR 0x10a) and QEMU
 * aborts, so the feature is masked; the kernel does not read that MSR, so real KVM loses nothing.
 */
export const KVM_CPU = "host,-arch-capabilities";

/** CPU model under TCG: every feature TCG can emulate. */
export const TCG_CPU = "max";

/** Arguments every machine type gets (after `-machine`). */
export function commonQemuArgs(spec: VmSpec): string[] {
  return [
    "-cpu",
    spec.accel === "kvm" ? KVM_CPU : TCG_CPU,
    "-nodefaults",
    "-no-user-config",
    // Not -nographic: with it QEMU turns on SeaBIOS's serial console, whose banner lands on COM1.
    "-display",
    "none",
    "-no-reboot",
    "-m",
    String(spec.memMiB),
    "-smp",
    String(spec.cpus),
    "-kernel",
    spec.kernelPath,
    ...(spec.initrdPath === undefined ? [] : ["-initrd", spec.initrdPath]),
    "-append",
    spec.cmdline,
    // COM1 (0x3f8): the console.
    "-serial",
    "stdio",
    // COM2 (0x2f8): the control channel, where the kernel reports `exit N`. index=1 pins it to 0x2f8
    // on both pc and microvm (checked with `info qtree`).
    "-chardev",
    `file,id=osvctl,path=${spec.controlPath}`,
    "-device",
    "isa-serial,chardev=osvctl,index=1",
    "-device",
    `isa-debug-exit,iobase=${DEBUG_EXIT_PORT},iosize=0x04`,
  ];
}

/** Escapes a value inside a QEMU option list (a comma is written twice). */
function qemuOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/**
 * The arguments attaching the VM's disks as virtio-blk devices, in order, with the disk I/O mode settled
 * by {@linkcode qemuAvailable} (`aio=io_uring` where it works, see _qemu_aio.ts).
 *
 * @param spec the VM
 * @param device `virtio-blk-pci` (pc) or `virtio-blk-device` (virtio-mmio, microvm)
 * @returns `-drive`/`-device` pairs
 * @throws RangeError for a bad `$OSV_QEMU_AIO`
 */
export function diskArgs(spec: VmSpec, device: string): string[] {
  const aio = spec.disks.length === 0 ? "" : aioDriveOptions(qemuAio(qemuBinary()));
  return spec.disks.flatMap((disk, i) => [
    "-drive",
    `file=${qemuOptionValue(disk.path)},format=${disk.format},if=none,id=disk${i}` +
    (disk.readOnly ? ",readonly=on" : "") + aio,
    "-device",
    `${device},drive=disk${i}`,
  ]);
}

/**
 * The `-netdev` value of a NIC's backend.
 *
 * User-mode NICs after the first get their own subnet, `10.0.3.0/24`, `10.0.4.0/24` ({@linkcode userNetwork}:
 * QEMU gives each the same 10.0.2.0/24 otherwise, and the guest could not route between them); in each the
 * guest's address is .15, the gateway .2 and the DNS server .3, as in QEMU's default 10.0.2.0/24.
 *
 * @param backend what the NIC is connected to
 * @param id the netdev id
 * @param userIndex how many user-mode NICs come before this one
 * @returns e.g. `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80`
 */
export function netdevValue(backend: NicBackend, id: string, userIndex: number): string {
  if (backend.kind === "user") {
    const parts = [`user,id=${id}`];
    if (userIndex > 0) parts.push(`net=${userNetwork(userIndex).net}`);
    if (backend.restrict) parts.push("restrict=on");
    for (const f of backend.forwards) {
      parts.push(`hostfwd=${f.protocol}:${f.hostAddress}:${f.hostPort}-${f.guestAddress ?? ""}:${f.guestPort}`);
    }
    return parts.join(",");
  }
  // script=no: osv run created the tap and put it on its bridge already (core/hostnet.ts).
  return `tap,id=${id},ifname=${qemuOptionValue(backend.ifname)},script=no,downscript=no` +
    (backend.vhost ? ",vhost=on" : "");
}

/**
 * The arguments giving the VM its NICs, in order (the kernel names them eth0, eth1, ... in this order).
 *
 * @param spec the VM
 * @param device `virtio-net-pci` (pc) or `virtio-net-device` (virtio-mmio, microvm)
 * @returns `-netdev`/`-device` pairs; none for a VM without a network
 */
export function nicArgs(spec: VmSpec, device: string): string[] {
  let userIndex = 0;
  return spec.nics.flatMap((nic, i) => {
    const netdev = netdevValue(nic.backend, `n${i}`, userIndex);
    if (nic.backend.kind === "user") userIndex++;
    return ["-netdev", netdev, "-device", `${device},netdev=n${i},mac=${nic.mac}`];
  });
}

/**
 * Whether QEMU can run with `accel` here; also settles the disk I/O mode (`$OSV_QEMU_AIO` or the cached
 * io_uring probe), so that the command built next is the one that runs.
 *
 * @param accel accelerator
 * @returns availability with the reason when not
 */
export async function qemuAvailable(accel: Accel): Promise<Availability> {
  const binary = qemuBinary();
  if (!findExecutable(binary)) {
    return { ok: false, reason: `${binary} is not installed (apt-get install qemu-system-x86)` };
  }
  if (accel === "kvm") {
    const kvm = probeKvm();
    if (!kvm.usable) return { ok: false, reason: kvm.reason ?? "KVM is not usable" };
  }
  try {
    await settleQemuAio(binary);
  } catch (err) {
    if (err instanceof RangeError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true };
}

/** QEMU stderr messages meaning KVM gave up on the guest; QEMU then stays paused, so it must be killed. */
export const KVM_FAILURE_PATTERNS: readonly string[] = ["KVM internal error", "emulation failure"];

/**
 * The last `exit N` line of the control channel.
 *
 * @param text the control file's content
 * @returns N, or `null` when there is none
 */
export function parseControlExit(text: string): number | null {
  let status: number | null = null;
  for (const line of text.split(/\r?\n/)) {
    const match = /^exit (\d+)\s*$/.exec(line);
    if (match) status = Number(match[1]);
  }
  return status;
}

/** How QEMU ended. */
export interface QemuEnd {
  /** QEMU's exit code (`null` when killed by a signal). */
  code: number | null;
  /** The signal that killed QEMU, if any. */
  signal: string | null;
  /** Content of the control file. */
  control: string;
  /** A KVM failure message was seen on stderr. */
  kvmFailure: boolean;
  /** The signal that made osv stop the guest: Ctrl-C (SIGINT) or SIGTERM; `false` when none did. */
  interrupted: false | "SIGINT" | "SIGTERM";
  /** The last lines QEMU printed on stderr. */
  stderrTail: string;
}

/**
 * Turns how QEMU ended into the guest program's exit status.
 *
 * Prefers the control channel's `exit N`; else isa-debug-exit's `(v << 1) | 1`. QEMU's own exit status 1
 * without an exit line is a QEMU failure, not `exit 0`: the kernel always writes the line first.
 *
 * @param end how QEMU ended
 * @param imageName for messages
 * @returns the guest's exit status
 * @throws RunError when there is no exit status to report
 */
export function decodeGuestExit(end: QemuEnd, imageName: string): number {
  if (end.kvmFailure) {
    throw new RunError(
      `Cannot run "${imageName}" with KVM: the host's KVM could not emulate an instruction in the guest kernel ` +
        "(KVM internal error); try --accel tcg",
    );
  }
  if (end.interrupted) return end.interrupted === "SIGTERM" ? 143 : 130;
  const reported = parseControlExit(end.control);
  if (reported !== null) return reported;
  if (end.code === null) {
    throw new RunError(`Cannot run "${imageName}": QEMU was killed by ${end.signal ?? "a signal"}`);
  }
  if (end.code === 0) throw new RunError(`Cannot run "${imageName}": guest stopped without reporting an exit status`);
  if (end.code === 1) {
    const tail = end.stderrTail.trim();
    const forward = /could not set up host forwarding rule '([^']*)'/i.exec(tail);
    if (forward) {
      throw new RunError(
        `Cannot run "${imageName}": QEMU could not forward ${forward[1]}: is the host port in use? ` +
          "Pick another one with --forward",
      );
    }
    const ioUring = ioUringFailure(tail);
    if (ioUring !== null) {
      throw new RunError(
        `Cannot run "${imageName}": QEMU could not use io_uring for the disk (${ioUring}); set ` +
          `${QEMU_AIO_ENV}=threads to use QEMU's thread pool, or delete ${osvCacheDir()}/${AIO_CACHE_FILE} ` +
          "for osv to probe again",
      );
    }
    throw new RunError(`Cannot run "${imageName}": QEMU failed (exit status 1)${tail ? `: ${tail}` : ""}`);
  }
  if (end.code % 2 === 1) return (end.code - 1) / 2;
  throw new RunError(`Cannot run "${imageName}": QEMU exited with status ${end.code}`);
}

/**
 * Runs QEMU with stdin inherited and its stdout/stderr streamed to `io`; stops it on Ctrl-C or SIGTERM
 * (so that `osv run` can clean up after it, e.g. delete its tap devices) and kills it on a KVM internal error.
 *
 * @param command the QEMU command
 * @param spec the VM (for the control file and messages)
 * @param io where the console goes
 * @returns the guest's exit status
 * @throws RunError when the guest's status cannot be determined or KVM failed
 */
export async function launchQemu(command: HostCommand, spec: VmSpec, io: ConsoleIO): Promise<number> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command.command, {
      args: command.args,
      stdin: "inherit",
      stdout: io.stdout === "inherit" ? "inherit" : "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new RunError(
        `Cannot run "${spec.imageName}": ${command.command} is not installed (apt-get install qemu-system-x86)`,
      );
    }
    throw err;
  }
  let interrupted: QemuEnd["interrupted"] = false;
  let kvmFailure = false;
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const onInterrupt = () => {
    interrupted = "SIGINT";
    kill("SIGTERM");
  };
  const onTerminate = () => {
    interrupted = "SIGTERM";
    kill("SIGTERM");
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onTerminate);
  let stderrTail = "";
  try {
    const stdoutDone = io.stdout === "inherit"
      ? Promise.resolve()
      : child.stdout.pipeTo(io.stdout, { preventClose: true });
    const stderrDone = (async () => {
      const writer = io.stderr.getWriter();
      const decoder = new TextDecoder();
      try {
        for await (const chunk of child.stderr) {
          await writer.write(chunk);
          stderrTail = (stderrTail + decoder.decode(chunk, { stream: true })).slice(-2048);
          if (!kvmFailure && KVM_FAILURE_PATTERNS.some((p) => stderrTail.includes(p))) {
            kvmFailure = true;
            kill("SIGKILL");
          }
        }
      } finally {
        writer.releaseLock();
      }
    })();
    const status = await child.status;
    await Promise.all([stdoutDone, stderrDone]);
    let control = "";
    try {
      control = Deno.readTextFileSync(spec.controlPath);
    } catch {
      // No control file: QEMU failed before the guest started; decodeGuestExit says so.
    }
    return decodeGuestExit(
      { code: status.signal ? null : status.code, signal: status.signal, control, kvmFailure, interrupted, stderrTail },
      spec.imageName,
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onTerminate);
  }
}
