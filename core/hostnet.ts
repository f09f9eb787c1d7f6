/**
 * Host side of tap networking (`osv run -n`, `-v`, `--nic tap`): before the hypervisor starts, creates
 * the tap devices it will open and the bridges they go on (with `ip`, as root), and after the VM stopped
 * deletes the taps it created. Bridges it created stay: other VMs and the host's own configuration of
 * the bridge may use them. Also says exactly what is missing where tap networking cannot work (no
 * /dev/net/tun, not root, no `ip`, no /dev/vhost-net).
 *
 * What the host has is read from sysfs and /proc through {@linkcode HostNetProbe}, which tests replace.
 *
 * @module
 */

import type { HostCommand, VmNic } from "./providers.ts";

/** What kind of network interface a name is on the host. */
export type LinkKind = "missing" | "bridge" | "tap" | "other";

/** What the host has for tap networking. */
export interface HostNetProbe {
  /** What `name` is on the host. */
  link(name: string): LinkKind;
  /** The bridge `name` is attached to, or null. */
  master(name: string): string | null;
  /** Whether the interface is up. */
  up(name: string): boolean;
  /** `null` when the character device opens read-write, else why not. */
  deviceProblem(path: string): string | null;
  /** Whether this process may configure the network (CAP_NET_ADMIN). */
  netAdmin(): boolean;
  /** Whether a program is in PATH. */
  hasProgram(name: string): boolean;
}

/** Environment variable naming the TUN/TAP device probed (default /dev/net/tun); tests point it elsewhere. */
export const TUN_DEVICE_ENV = "OSV_TUN_DEVICE";

/** Environment variable naming the vhost-net device probed (default /dev/vhost-net). */
export const VHOST_DEVICE_ENV = "OSV_VHOST_DEVICE";

/** The TUN/TAP device (`$OSV_TUN_DEVICE` or /dev/net/tun). */
export function tunDevice(): string {
  return Deno.env.get(TUN_DEVICE_ENV) || "/dev/net/tun";
}

/** The vhost-net device (`$OSV_VHOST_DEVICE` or /dev/vhost-net). */
export function vhostDevice(): string {
  return Deno.env.get(VHOST_DEVICE_ENV) || "/dev/vhost-net";
}

const IFF_UP = 0x1;
const IFF_TAP = 0x2;
const CAP_NET_ADMIN = 12n;

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The real host, through /sys/class/net and /proc/self/status (of the network namespace `osv` runs in). */
export const hostNetProbe: HostNetProbe = {
  link(name) {
    const dir = `/sys/class/net/${name}`;
    if (!exists(dir)) return "missing";
    if (exists(`${dir}/bridge`)) return "bridge";
    const tunFlags = readText(`${dir}/tun_flags`);
    if (tunFlags !== null && (parseInt(tunFlags.trim(), 16) & IFF_TAP) !== 0) return "tap";
    return "other";
  },
  master(name) {
    try {
      const target = Deno.readLinkSync(`/sys/class/net/${name}/master`);
      return target.slice(target.lastIndexOf("/") + 1);
    } catch {
      return null;
    }
  },
  up(name) {
    const flags = readText(`/sys/class/net/${name}/flags`);
    return flags !== null && (parseInt(flags.trim(), 16) & IFF_UP) !== 0;
  },
  deviceProblem(path) {
    try {
      Deno.openSync(path, { read: true, write: true }).close();
      return null;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return `${path} does not exist`;
      if (err instanceof Deno.errors.PermissionDenied) return `no permission to open ${path}`;
      return `cannot open ${path} (${err instanceof Error ? err.message : String(err)})`;
    }
  },
  netAdmin() {
    const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readText("/proc/self/status") ?? "");
    return match !== null && ((BigInt(`0x${match[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
  },
  hasProgram(name) {
    return (Deno.env.get("PATH") ?? "").split(":").some((dir) => dir !== "" && exists(`${dir}/${name}`));
  },
};

/** What `osv run` does on the host around the VM. */
export interface HostNetworkPlan {
  /** Commands run before the hypervisor starts, in order. */
  setup: HostCommand[];
  /** Commands that delete what `setup` created for this run (the taps), run after the VM stopped. */
  teardown: HostCommand[];
  /** Lines for the user, printed once the setup ran (e.g. that a bridge was created and stays). */
  notes: string[];
}

const ip = (...args: string[]): HostCommand => ({ command: "ip", args });

/**
 * Plans the host setup of a VM's tap NICs: a tap device that does not exist is created (and deleted
 * after the run); a bridge that does not exist is created and brought up (and stays); the tap is put on
 * its bridge and brought up unless it already is.
 *
 * @param nics the VM's NICs (user-mode ones need nothing)
 * @param probe the host (default: this one)
 * @returns the commands
 * @throws Error when a name is taken by an interface of another kind
 */
export function planHostNetwork(nics: readonly VmNic[], probe: HostNetProbe = hostNetProbe): HostNetworkPlan {
  const plan: HostNetworkPlan = { setup: [], teardown: [], notes: [] };
  const bridges = new Set<string>();
  nics.forEach((nic, index) => {
    if (nic.backend.kind !== "tap") return;
    const { ifname, bridge } = nic.backend;
    const kind = probe.link(ifname);
    if (kind !== "missing" && kind !== "tap") {
      throw new Error(`Cannot use "${ifname}" as the tap device of eth${index}: it exists and is not a tap device`);
    }
    const created = kind === "missing";
    if (created) {
      plan.setup.push(ip("tuntap", "add", "dev", ifname, "mode", "tap"));
      plan.teardown.unshift(ip("link", "del", ifname));
    }
    if (bridge !== null) {
      const bridgeKind = bridges.has(bridge) ? "bridge" : probe.link(bridge);
      if (bridgeKind === "missing") {
        plan.setup.push(ip("link", "add", "name", bridge, "type", "bridge"), ip("link", "set", bridge, "up"));
        plan.notes.push(
          `osv: created bridge ${bridge}; it stays after the VM (delete it with: ip link del ${bridge}). It has ` +
            `no address and no DHCP server: give the host an address on it (ip addr add 192.168.122.1/24 dev ` +
            `${bridge}) and the guest one with --ip, or run a DHCP server on it`,
        );
      } else if (bridgeKind !== "bridge") {
        throw new Error(`Cannot put ${ifname} on bridge "${bridge}": ${bridge} exists and is not a bridge`);
      }
      bridges.add(bridge);
      if (created || probe.master(ifname) !== bridge) plan.setup.push(ip("link", "set", ifname, "master", bridge));
    }
    if (created || !probe.up(ifname)) plan.setup.push(ip("link", "set", ifname, "up"));
  });
  return plan;
}

/**
 * Checks that the host can give the VM its tap NICs and run the plan's commands.
 *
 * @param nics the VM's NICs
 * @param plan what will be run
 * @param probe the host (default: this one)
 * @throws Error listing everything that is missing and how to get it
 */
export function checkHostNetwork(
  nics: readonly VmNic[],
  plan: HostNetworkPlan,
  probe: HostNetProbe = hostNetProbe,
): void {
  if (!nics.some((nic) => nic.backend.kind === "tap")) return;
  const missing: string[] = [];
  const tun = tunDevice();
  const tunProblem = probe.deviceProblem(tun);
  if (tunProblem !== null) {
    missing.push(
      tunProblem.includes("does not exist")
        ? `${tunProblem} (load the tun module: modprobe tun; in a container, start it with --device ${tun})`
        : `${tunProblem} (run osv as root)`,
    );
  }
  if (plan.setup.length > 0) {
    if (!probe.netAdmin()) {
      missing.push(
        "creating tap devices and bridges needs root (CAP_NET_ADMIN): run osv as root (sudo osv run -n ...), " +
          "or create the tap beforehand (ip tuntap add dev tap0 mode tap user $USER) and use --nic tap,ifname=tap0",
      );
    }
    if (!probe.hasProgram("ip")) missing.push("the ip command is not installed (apt-get install iproute2)");
  }
  if (missing.length > 0) {
    throw new Error(
      `Cannot set up tap networking: ${missing.join("; ")}. Without tap networking, use the default user-mode ` +
        "network and reach the guest through port forwards (--forward tcp:8080:8080)",
    );
  }
}

/** Runs one host command; its exit status and error output. */
export type CommandRunner = (command: HostCommand) => Promise<{ code: number; stderr: string }>;

/** Runs a command with Deno.Command. */
export const runHostCommand: CommandRunner = async (command) => {
  const out = await new Deno.Command(command.command, { args: command.args, stdout: "null", stderr: "piped" })
    .output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
};

/**
 * Runs the plan's setup; when a command fails, deletes what was created so far and throws.
 *
 * @param plan the plan
 * @param run how commands are run (default: for real)
 * @throws Error naming the command that failed and its message
 */
export async function setUpHostNetwork(plan: HostNetworkPlan, run: CommandRunner = runHostCommand): Promise<void> {
  const created: HostCommand[] = [];
  for (const command of plan.setup) {
    const result = await run(command);
    if (result.code === 0) {
      const [verb, action, , ifname] = command.args;
      if (verb === "tuntap" && action === "add" && ifname !== undefined) created.unshift(ip("link", "del", ifname));
      continue;
    }
    await tearDownHostNetwork({ ...plan, teardown: created }, run);
    throw new Error(
      `Cannot set up tap networking: "${[command.command, ...command.args].join(" ")}" failed` +
        (result.stderr ? `: ${result.stderr}` : ` (exit status ${result.code})`),
    );
  }
}

/**
 * Runs the plan's teardown (deletes the taps created for the run).
 *
 * @param plan the plan
 * @param run how commands are run (default: for real)
 * @returns a warning line for each command that failed
 */
export async function tearDownHostNetwork(
  plan: HostNetworkPlan,
  run: CommandRunner = runHostCommand,
): Promise<string[]> {
  const failures: string[] = [];
  for (const command of plan.teardown) {
    const result = await run(command).catch((err) => ({ code: -1, stderr: String(err) }));
    if (result.code !== 0) {
      failures.push(`osv: warning: "${[command.command, ...command.args].join(" ")}" failed: ${result.stderr}`);
    }
  }
  return failures;
}
