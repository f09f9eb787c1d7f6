/**
 * `osv run`: open the image (format.open), read its header, take its kernel from the boot cache (core/bootcache.ts,
 * extracted there on the first run) and extract a ramfs to a temp dir,
 * attach the image itself as a read-only disk when the kernel reads its filesystem from there,
 * resolve the network (core/net.ts), compose the command line, pick hypervisor and accelerator, create
 * tap devices and bridges when the VM has tap NICs (core/hostnet.ts), boot, delete the taps again,
 * return the guest's exit status.
 *
 * @module
 */

import { basename } from "./paths.ts";
import { type NetworkRequest, resolveNetwork, userNetworkOptions } from "./net.ts";
import {
  checkHostNetwork,
  type HostNetProbe,
  hostNetProbe,
  planHostNetwork,
  setUpHostNetwork,
  tearDownHostNetwork,
  vhostDevice,
} from "./hostnet.ts";
import { ValidationError } from "./errors.ts";
import { builtinPlugins } from "./builtins.ts";
import { PluginDriver } from "./driver.ts";
import { extractRange, readImageHeader } from "./image.ts";
import { imageKernel } from "./bootcache.ts";
import {
  chooseAccel,
  kernelOptionWords,
  type KvmStatus,
  probeKvm,
  runKernelOptions,
  withKernelOptions,
} from "./host.ts";
import type { Plugin } from "./plugin.ts";
import type { Accel, ConsoleIO, DiskReader, HostCommand, VmDisk, VmSpec } from "./providers.ts";
import { PluginRegistry } from "./registry.ts";
import { probeFormat } from "./disk.ts";

/** What to run. */
export interface RunRequest {
  /** Image path. */
  image: string;
  /** Command line replacing the image's for this run (`-e`). */
  cmdline?: string;
  /** Guest memory in MiB (default 64). */
  memMiB?: number;
  /** vCPUs (default 1). */
  cpus?: number;
  /** Hypervisor name (default `qemu`). */
  hypervisor?: string;
  /** Accelerator (default: chosen from the host). */
  accel?: Accel;
  /** Add `--bootchart` to the kernel options. */
  bootchart?: boolean;
  /** Add `--verbose` to the kernel options. */
  verbose?: boolean;
  /** Only compute the hypervisor command; the extracted files are kept so it can be run by hand. */
  dryRun?: boolean;
  /** Third-party plugins. */
  plugins?: readonly Plugin[];
  /** Console (default: this process's stdout/stderr). */
  io?: ConsoleIO;
  /** Warning lines (default stderr). */
  warn?: (line: string) => void;
  /** The host's KVM (default: probed). */
  kvm?: KvmStatus;
  /** NICs, static addresses, DNS (default: one NIC on the hypervisor's user-mode network). */
  network?: NetworkRequest;
  /** The host's network interfaces and permissions, for tap NICs (default: probed). */
  hostNet?: HostNetProbe;
}

/** How the run ended. */
export interface RunResult {
  /** The guest's exit status (0 for a dry run). */
  exitCode: number;
  /** The hypervisor command. */
  command: HostCommand;
  /** Commands run on the host before the hypervisor (tap devices, bridges), or that would be for a dry run. */
  hostSetup: HostCommand[];
}

/** Default guest memory in MiB. */
export const DEFAULT_MEM_MIB = 64;

/**
 * Boots an image and waits for the guest to stop.
 *
 * @param request what to run
 * @returns the guest's exit status and the hypervisor command
 * @throws Error when the image is invalid, the hypervisor is unavailable or the guest gave no status
 */
export async function runImage(request: RunRequest): Promise<RunResult> {
  const warn = request.warn ?? ((line: string) => console.error(line));
  const registry = new PluginRegistry([...builtinPlugins(), ...request.plugins ?? []], { warn }).forCommand("run");
  const driver = new PluginDriver(registry);
  const hypervisor = registry.get("hypervisor", request.hypervisor ?? "qemu");
  const format = probeFormat(registry, request.image, "boot image");
  const hostNet = request.hostNet ?? hostNetProbe;
  const network = resolveNetwork(request.network ?? {}, {
    image: Deno.realPathSync(request.image),
    pid: Deno.pid,
    vhostProblem: () => vhostProblem(hostNet),
  });
  const unsupported = network.nics.find((nic) =>
    hypervisor.provider.nicBackends !== undefined && !hypervisor.provider.nicBackends.includes(nic.backend.kind)
  );
  if (unsupported !== undefined) {
    throw new ValidationError(
      `hypervisor "${hypervisor.provider.name}" cannot attach a NIC to a ${unsupported.backend.kind} network ` +
        `(it can: ${hypervisor.provider.nicBackends?.join(", ") || "none"}); choose the NICs with -n, --nic ` +
        "or --no-net",
    );
  }
  for (const line of network.warnings) warn(line);

  const kvm = request.kvm ?? probeKvm();
  const choice = chooseAccel(request.accel, kvm);
  if (!hypervisor.provider.accels.includes(choice.accel)) {
    throw new Error(
      `Cannot run "${request.image}": hypervisor "${hypervisor.provider.name}" does not support ${choice.accel}`,
    );
  }
  if (choice.warning) warn(choice.warning);
  const availability = await hypervisor.provider.available(choice.accel);
  if (!availability.ok) {
    throw new Error(`Cannot run "${request.image}" with ${hypervisor.provider.name}: ${availability.reason}`);
  }

  const workDir = Deno.makeTempDirSync({ prefix: "osv-run-" });
  let keep = false;
  let disk: DiskReader | undefined;
  try {
    disk = await format.provider.open(request.image, format.ctx);
    const header = await readImageHeader(disk, request.image);
    const kernelPath = await imageKernel(disk, header, `${workDir}/kernel.elf`);
    // A filesystem handed over in memory is extracted; any other is read by the kernel from the image.
    let initrdPath: string | undefined;
    const disks: VmDisk[] = [];
    if (fsSource(registry, header.fsType, request.image) === "initrd") {
      initrdPath = `${workDir}/fs.${header.fsType}`;
      await extractRange(disk, { offset: header.fsOffset, size: header.fsSize }, initrdPath);
    } else {
      disks.push({ path: request.image, format: format.provider.qemuFormat ?? format.provider.name, readOnly: true });
    }
    disk.close();
    disk = undefined;

    const options = [
      ...runKernelOptions({
        accel: choice.accel,
        pvm: kvm.pvm,
        bootchart: request.bootchart ?? false,
        verbose: request.verbose ?? false,
      }),
      ...network.kernelOptions,
    ];
    const cmdline = request.cmdline ?? header.cmdline;
    // slirp's fixed addresses instead of DHCP at boot, unless the user configured the network.
    options.push(...userNetworkOptions(network.nics, [...kernelOptionWords(cmdline), ...options]));
    const spec = await driver.hookSeq(
      "beforeRun",
      {
        kernelPath,
        ...(initrdPath === undefined ? {} : { initrdPath }),
        disks,
        cmdline: withKernelOptions(options, cmdline),
        memMiB: request.memMiB ?? DEFAULT_MEM_MIB,
        cpus: request.cpus ?? 1,
        accel: choice.accel,
        controlPath: `${workDir}/control`,
        imageName: basename(request.image),
        nics: network.nics,
      } satisfies VmSpec,
    );
    const command = hypervisor.provider.command(spec);
    const hostPlan = planHostNetwork(spec.nics, hostNet);
    if (request.dryRun) {
      keep = true;
      return { exitCode: 0, command, hostSetup: hostPlan.setup };
    }
    checkHostNetwork(spec.nics, hostPlan, hostNet);
    await setUpHostNetwork(hostPlan);
    let exitCode: number;
    try {
      for (const line of hostPlan.notes) warn(line);
      const io: ConsoleIO = request.io ?? { stdout: "inherit", stderr: Deno.stderr.writable };
      exitCode = await hypervisor.provider.launch(spec, io, hypervisor.ctx);
    } finally {
      for (const line of await tearDownHostNetwork(hostPlan)) warn(line);
    }
    await driver.hookParallel("afterRun", { image: request.image, exitCode });
    return { exitCode, command, hostSetup: hostPlan.setup };
  } finally {
    disk?.close();
    if (!keep) removeQuietly(workDir);
  }
}

/** Why vhost-net cannot be used here (`null`: it can), with how to get it. */
function vhostProblem(hostNet: HostNetProbe): string | null {
  const device = vhostDevice();
  const problem = hostNet.deviceProblem(device);
  if (problem === null) return null;
  return problem.includes("does not exist")
    ? `${problem} (load the module as root: modprobe vhost_net)`
    : `${problem} (run osv as root, or give your user access to ${device})`;
}

/** How the kernel gets an image's filesystem (its provider says; unknown types are an error). */
function fsSource(registry: PluginRegistry, fsType: string, image: string): "initrd" | "disk" {
  try {
    return registry.get("filesystem", fsType).provider.source ?? "disk";
  } catch (err) {
    throw new Error(`Cannot run "${image}": ${(err as Error).message}`, { cause: err });
  }
}

function removeQuietly(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // Already gone: nothing to clean.
  }
}

/**
 * Quotes a command for a POSIX shell (for `--dry-run`).
 *
 * @param command program and arguments
 * @returns one line
 */
export function shellQuote(command: HostCommand): string {
  return [command.command, ...command.args]
    .map((a) => /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}
