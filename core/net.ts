/**
 * `osv run` networking, the part that needs no host: parses the network flags (`--forward`, `--nic`,
 * `--mac`, `--ip`, `--defaultgw`, `--nameserver`), and resolves a {@linkcode NetworkRequest} into the
 * VmSpec's NICs (MACs, tap names, bridges, vhost-net) and the kernel options that configure the guest
 * (`--ip=eth0,ADDR,MASK --defaultgw=GW --nameserver=DNS`, the OSv syntax the kernel reads).
 * Creating tap devices and bridges on the host is core/hostnet.ts.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";
import type { PortForward, VmNic } from "./providers.ts";

/** NICs a guest can have: the kernel's `NET_MAX_INTERFACES` (kernel/param.h, 4) minus `lo`. */
export const MAX_NICS = 3;

/** Name servers the kernel takes (`--nameserver`, kernel/boot.h). */
export const MAX_NAMESERVERS = 3;

/** Bridge tap NICs are put on unless told otherwise (as OSv's run.py: libvirt's default network). */
export const DEFAULT_BRIDGE = "virbr0";

/** Host address port forwards listen on unless the rule names one: only this host can connect. */
export const DEFAULT_FORWARD_ADDRESS = "127.0.0.1";

/** The MAC QEMU gives every NIC that has none (which is why osv always sets one). */
export const QEMU_DEFAULT_MAC = "52:54:00:12:34:56";

/** The addresses of one of QEMU's user-mode networks (slirp), as the guest sees them. */
export interface UserNetwork {
  /** The network, `10.0.2.0/24` for the first. */
  net: string;
  /** The guest's address: the first one slirp's DHCP server hands out (.15). */
  address: string;
  /** The netmask of `net`. */
  netmask: string;
  /** slirp's gateway, which is also the host (.2). */
  gateway: string;
  /** slirp's DNS forwarder (.3). */
  dns: string;
}

/**
 * The addresses of a VM's `n`-th user-mode NIC. QEMU's default network is 10.0.2.0/24 (guest .15, host and
 * gateway .2, DNS .3, as QEMU's documentation gives them); each further user-mode NIC is a slirp network of
 * its own, 10.0.3.0/24, 10.0.4.0/24, laid out the same way (QEMU would give each 10.0.2.0/24, and the guest
 * could not route between them). The QEMU backends pass `net` for n > 0; `osv run` passes the rest to the
 * kernel so that it needs no DHCP.
 *
 * @param n how many user-mode NICs come before this one (0 for the first)
 * @returns the network and the guest's, gateway's and DNS server's addresses
 * @throws RangeError when `n` is not 0..MAX_NICS-1
 * @example
 * ```ts
 * import { userNetwork } from "./net.ts";
 * if (userNetwork(1).address !== "10.0.3.15") throw new Error();
 * ```
 */
export function userNetwork(n: number): UserNetwork {
  if (!Number.isInteger(n) || n < 0 || n >= MAX_NICS) {
    throw new RangeError(`${n} is not a user-mode NIC index (0..${MAX_NICS - 1})`);
  }
  const prefix = `10.0.${2 + n}`;
  return {
    net: `${prefix}.0/24`,
    address: `${prefix}.15`,
    netmask: "255.255.255.0",
    gateway: `${prefix}.2`,
    dns: `${prefix}.3`,
  };
}

/** One NIC as asked for; what is left out is filled in by {@linkcode resolveNetwork}. */
export type NicRequest =
  | {
    kind: "user";
    /** Port forwards from the host (default none). */
    forwards?: readonly PortForward[];
    /** The guest reaches nothing but its forwards (default false). */
    restrict?: boolean;
    /** Default: derived from the image path and the NIC's index. */
    mac?: string;
  }
  | {
    kind: "tap";
    /** An existing tap device to use, or the name of the one to create (default `osv<pid>-<index>`). */
    ifname?: string;
    /** Bridge to put the tap on, `null` for none (default: the request's bridge; none for a named tap). */
    bridge?: string | null;
    /** vhost-net (default false). */
    vhost?: boolean;
    /** Default: derived from the image path and the NIC's index. */
    mac?: string;
  };

/** A static IPv4 address of one guest interface (`--ip=IFACE,ADDR,NETMASK`). */
export interface StaticAddress {
  /** Guest interface, `eth0`, `eth1`, ... */
  iface: string;
  /** IPv4 address. */
  address: string;
  /** Dotted netmask, e.g. `255.255.255.0`. */
  netmask: string;
}

/** The network of one `osv run`. */
export interface NetworkRequest {
  /** NICs in guest order (eth0 first); `[]` for none. Default: one NIC on the user-mode network. */
  nics?: readonly NicRequest[];
  /** Bridge for tap NICs that name none (default {@linkcode DEFAULT_BRIDGE}). */
  bridge?: string;
  /** When vhost-net is asked for but missing: warn and run without it, instead of failing. */
  vhostFallback?: boolean;
  /** Static addresses; without any, the kernel asks DHCP for eth0's. */
  addresses?: readonly StaticAddress[];
  /** Default gateway. */
  gateway?: string;
  /** DNS servers, for the guest's generated /etc/resolv.conf. */
  nameservers?: readonly string[];
}

/** What a request resolves to. */
export interface ResolvedNetwork {
  /** The VmSpec's NICs. */
  nics: VmNic[];
  /** Kernel options configuring the guest's addresses (go before the program path). */
  kernelOptions: string[];
  /** Warning lines for the user. */
  warnings: string[];
}

/** What {@linkcode resolveNetwork} needs from its surroundings. */
export interface ResolveContext {
  /** The image's absolute path: default MACs are derived from it. */
  image: string;
  /** Names the tap devices osv creates: `osv<pid>-<index>`. */
  pid: number;
  /** Whether vhost-net can be used here: `null` when it can, else why not (asked only when needed). */
  vhostProblem(): string | null;
}

/** The flags of `osv run` that describe the network, as given (strings are parsed here). */
export interface NetworkFlags {
  /** `-n`: eth0 on a tap device on a bridge. */
  networking?: boolean;
  /** `-v`: like `-n`, with vhost-net. */
  vhost?: boolean;
  /** `--bridge`. */
  bridge?: string | undefined;
  /** `--vhost-fallback`. */
  vhostFallback?: boolean;
  /** `--forward` rules, for eth0. */
  forward?: readonly string[];
  /** `--net-restrict`, for eth0. */
  netRestrict?: boolean;
  /** `--no-net`. */
  noNet?: boolean;
  /** `--mac`, for eth0. */
  mac?: string | undefined;
  /** `--nic` specs: when given, these are all the NICs. */
  nic?: readonly string[];
  /** `--ip` specs. */
  ip?: readonly string[];
  /** `--defaultgw`. */
  defaultgw?: string | undefined;
  /** `--nameserver` addresses. */
  nameserver?: readonly string[];
}

/** The `--forward` syntax, for messages. */
export const FORWARD_SYNTAX = "expected [tcp:|udp:][HOSTADDR:]HOSTPORT[:GUESTPORT], e.g. tcp:8080:80, " +
  "or QEMU's [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT";

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new RangeError(`"${text}" is not a port number (1..65535)`);
  }
  return Number(text);
}

/**
 * Parses an IPv4 address in dotted-quad form.
 *
 * @param text the address
 * @param what what it is, for the message
 * @returns the address, normalised (no leading zeros)
 * @throws RangeError when it is not one
 * @example
 * ```ts
 * import { parseIpv4 } from "./net.ts";
 * if (parseIpv4("10.0.2.15", "address") !== "10.0.2.15") throw new Error();
 * ```
 */
export function parseIpv4(text: string, what = "address"): string {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RangeError(`"${text}" is not an IPv4 ${what}`);
  }
  return parts.map(Number).join(".");
}

/**
 * Parses a port forward rule of `--forward`: `[tcp:|udp:][HOSTADDR:]HOSTPORT[:GUESTPORT]` (the guest port
 * defaults to the host port), or QEMU's `hostfwd` form `[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`
 * as OSv's run.py takes it. The host address defaults to 127.0.0.1 in both forms (QEMU's own default is
 * every interface): write `0.0.0.0` to let other machines connect.
 *
 * @param text the rule
 * @returns the forward
 * @throws RangeError saying what is wrong
 * @example
 * ```ts
 * import { parseForward } from "./net.ts";
 * const f = parseForward("tcp:8080:80");
 * if (f.hostPort !== 8080 || f.guestPort !== 80 || f.hostAddress !== "127.0.0.1") throw new Error();
 * ```
 */
export function parseForward(text: string): PortForward {
  try {
    return parseForwardRule(text.trim());
  } catch (err) {
    if (err instanceof RangeError) throw new RangeError(`${err.message}; ${FORWARD_SYNTAX}`);
    throw err;
  }
}

function parseForwardRule(rule: string): PortForward {
  const protocolOf = (name: string): "tcp" | "udp" => {
    const lower = name.toLowerCase();
    if (lower === "tcp" || lower === "udp") return lower;
    throw new RangeError(`unknown protocol "${name}" (tcp or udp)`);
  };
  const hostAddress = (text: string) => text === "" ? DEFAULT_FORWARD_ADDRESS : parseIpv4(text, "host address");
  if (rule.includes("-")) {
    const match = /^([^:]*):([^:]*):([^:]*)-([^:]*):([^:]*)$/.exec(rule);
    if (!match) throw new RangeError(`"${rule}" is not a forward rule`);
    const [, protocol = "", host = "", hostPort = "", guest = "", guestPort = ""] = match;
    return {
      protocol: protocol === "" ? "tcp" : protocolOf(protocol),
      hostAddress: hostAddress(host),
      hostPort: port(hostPort),
      ...(guest === "" ? {} : { guestAddress: parseIpv4(guest, "guest address") }),
      guestPort: port(guestPort),
    };
  }
  const parts = rule.split(":");
  let protocol: "tcp" | "udp" = "tcp";
  if (parts.length > 1 && /^[a-z]+$/i.test(parts[0]!)) protocol = protocolOf(parts.shift()!);
  if (parts.length < 1 || parts.length > 3 || rule === "") {
    throw new RangeError(`"${rule}" is not a forward rule`);
  }
  const [first, second, third] = parts as [string, string?, string?];
  if (third !== undefined) {
    return { protocol, hostAddress: hostAddress(first), hostPort: port(second!), guestPort: port(third) };
  }
  const hostPort = port(first);
  return {
    protocol,
    hostAddress: DEFAULT_FORWARD_ADDRESS,
    hostPort,
    guestPort: second === undefined ? hostPort : port(second),
  };
}

/**
 * Parses a MAC address (`52:54:00:ab:cd:ef`, also with `-`); it must be unicast and not all zeros.
 *
 * @param text the address
 * @returns lower case, colon-separated
 * @throws RangeError when it is not a usable MAC
 */
export function parseMac(text: string): string {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{2}$/i.test(p))) {
    throw new RangeError(`"${text}" is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:57)`);
  }
  const bytes = parts.map((p) => parseInt(p, 16));
  if ((bytes[0]! & 1) !== 0) throw new RangeError(`"${text}" is a multicast MAC address; a NIC needs a unicast one`);
  if (bytes.every((b) => b === 0)) throw new RangeError(`"${text}" is not a usable MAC address`);
  return parts.join(":").toLowerCase();
}

/**
 * The MAC a NIC gets when none is given: QEMU's locally administered prefix 52:54:00 and three bytes
 * hashed from the image's path and the NIC's index. The same image gets the same MACs on every run (so
 * a DHCP server on a bridge gives it the same address); different images get different ones (QEMU alone
 * would give every VM 52:54:00:12:34:56). Two VMs of the same image on one bridge need `--mac`.
 *
 * @param image the image's absolute path
 * @param index the NIC's index (0 for eth0)
 * @returns the MAC
 */
export function defaultMac(image: string, index: number): string {
  let h = 2166136261;
  for (const byte of new TextEncoder().encode(`${image}\0${index}`)) h = Math.imul(h ^ byte, 16777619) >>> 0;
  const hex = (n: number) => (n & 0xff).toString(16).padStart(2, "0");
  const mac = `52:54:00:${hex(h >>> 16)}:${hex(h >>> 8)}:${hex(h)}`;
  return mac === QEMU_DEFAULT_MAC ? "52:54:00:12:34:57" : mac;
}

/**
 * Checks a host network interface name (a tap device or a bridge).
 *
 * @param text the name
 * @param what what it names, for the message
 * @returns the name
 * @throws RangeError when Linux would not take it (or it would need quoting in a QEMU option)
 */
export function parseInterfaceName(text: string, what = "interface"): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(text) || text === "." || text === "..") {
    throw new RangeError(`"${text}" is not a ${what} name (1 to 15 letters, digits, "_", "-" or ".")`);
  }
  return text;
}

function onOff(key: string, value: string): boolean {
  if (value === "on") return true;
  if (value === "off") return false;
  throw new RangeError(`${key}=${value}: expected ${key}=on or ${key}=off`);
}

/** The `--nic` syntax, for messages. */
export const NIC_SYNTAX = "expected user[,forward=RULE]...[,restrict=on][,mac=MAC] or " +
  "tap[,ifname=NAME][,bridge=NAME|none][,vhost=on][,mac=MAC]";

/**
 * Parses a `--nic` spec: `user[,forward=RULE]...[,restrict=on|off][,mac=MAC]` or
 * `tap[,ifname=NAME][,bridge=NAME|none][,vhost=on|off][,mac=MAC]`.
 *
 * @param text the spec
 * @returns the NIC
 * @throws RangeError saying what is wrong
 * @example
 * ```ts
 * import { parseNicSpec } from "./net.ts";
 * const nic = parseNicSpec("tap,bridge=br0,vhost=on");
 * if (nic.kind !== "tap" || nic.bridge !== "br0" || !nic.vhost) throw new Error();
 * ```
 */
export function parseNicSpec(text: string): NicRequest {
  const [kind, ...options] = text.trim().split(",");
  const seen = new Set<string>();
  const pairs = options.map((option) => {
    const eq = option.indexOf("=");
    if (eq <= 0) throw new RangeError(`"${option}" is not KEY=VALUE; ${NIC_SYNTAX}`);
    const key = option.slice(0, eq);
    if (key !== "forward" && seen.has(key)) throw new RangeError(`${key}= is given twice`);
    seen.add(key);
    return [key, option.slice(eq + 1)] as const;
  });
  const unknown = (key: string, known: string) =>
    new RangeError(`unknown ${kind} NIC option "${key}" (${known}); ${NIC_SYNTAX}`);
  if (kind === "user") {
    const forwards: PortForward[] = [];
    let restrict = false;
    let mac: string | undefined;
    for (const [key, value] of pairs) {
      if (key === "forward") forwards.push(parseForward(value));
      else if (key === "restrict") restrict = onOff(key, value);
      else if (key === "mac") mac = parseMac(value);
      else throw unknown(key, "forward, restrict, mac");
    }
    return { kind, forwards, restrict, ...(mac === undefined ? {} : { mac }) };
  }
  if (kind === "tap") {
    const nic: NicRequest & { kind: "tap" } = { kind, vhost: false };
    for (const [key, value] of pairs) {
      if (key === "ifname") nic.ifname = parseInterfaceName(value, "tap device");
      else if (key === "bridge") nic.bridge = value === "none" ? null : parseInterfaceName(value, "bridge");
      else if (key === "vhost") nic.vhost = onOff(key, value);
      else if (key === "mac") nic.mac = parseMac(value);
      else throw unknown(key, "ifname, bridge, vhost, mac");
    }
    return nic;
  }
  throw new RangeError(`unknown NIC kind "${kind}" (user or tap); ${NIC_SYNTAX}`);
}

/** The `--ip` syntax, for messages. */
export const IP_SYNTAX = "expected ADDR/MASK[,GATEWAY[,DNS]] (for eth0, e.g. 192.168.122.10/24,192.168.122.1) " +
  "or OSv's IFACE,ADDR,NETMASK (e.g. eth1,10.0.3.15,255.255.255.0)";

function netmask(text: string): string {
  if (/^\d{1,2}$/.test(text) && Number(text) <= 32) {
    const bits = Number(text) === 0 ? 0 : (0xffffffff << (32 - Number(text))) >>> 0;
    return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join(".");
  }
  const dotted = parseIpv4(text, "netmask");
  const bits = dotted.split(".").reduce((n, p) => n * 256 + Number(p), 0);
  const inverted = (~bits) >>> 0;
  if ((inverted & (inverted + 1)) !== 0) {
    throw new RangeError(`"${text}" is not a netmask (its ones are not contiguous)`);
  }
  return dotted;
}

/** One `--ip` value. */
export interface ParsedIp {
  address: StaticAddress;
  gateway?: string;
  nameserver?: string;
}

/**
 * Parses an `--ip` value: `ADDR/MASK[,GATEWAY[,DNS]]` for eth0 (MASK a prefix length or a dotted netmask),
 * or OSv's `IFACE,ADDR,NETMASK` for any interface.
 *
 * @param text the value
 * @returns the address, with the gateway and DNS server when given
 * @throws RangeError saying what is wrong
 * @example
 * ```ts
 * import { parseIp } from "./net.ts";
 * const ip = parseIp("192.168.122.10/24,192.168.122.1");
 * if (ip.address.netmask !== "255.255.255.0" || ip.gateway !== "192.168.122.1") throw new Error();
 * ```
 */
export function parseIp(text: string): ParsedIp {
  const parts = text.trim().split(",");
  if (/^[A-Za-z]/.test(parts[0] ?? "")) {
    if (parts.length !== 3) throw new RangeError(`"${text}" is not an address; ${IP_SYNTAX}`);
    const [iface, address, mask] = parts as [string, string, string];
    if (!/^eth\d$/.test(iface)) throw new RangeError(`"${iface}" is not a guest interface (eth0, eth1, eth2)`);
    return { address: { iface, address: parseIpv4(address), netmask: netmask(mask) } };
  }
  if (parts.length > 3) throw new RangeError(`"${text}" is not an address; ${IP_SYNTAX}`);
  const [cidr, gateway, nameserver] = parts as [string, string?, string?];
  const slash = cidr.indexOf("/");
  if (slash < 0) throw new RangeError(`"${cidr}" has no /MASK; ${IP_SYNTAX}`);
  return {
    address: { iface: "eth0", address: parseIpv4(cidr.slice(0, slash)), netmask: netmask(cidr.slice(slash + 1)) },
    ...(gateway === undefined || gateway === "" ? {} : { gateway: parseIpv4(gateway, "gateway address") }),
    ...(nameserver === undefined || nameserver === "" ? {} : { nameserver: parseIpv4(nameserver, "DNS address") }),
  };
}

/**
 * Turns `osv run`'s network flags into a request. The shorthands describe a single NIC: the default is one
 * on the user-mode network, `-n` one on a tap device, `-v` the same with vhost-net, `--no-net` none; `--nic`
 * (repeatable) lists every NIC instead. `--forward`, `--net-restrict` and `--mac` apply to eth0.
 *
 * @param flags the flags
 * @returns the request
 * @throws ValidationError (exit status 2) for flags that contradict each other
 * @throws RangeError for a value that does not parse
 */
export function networkFromFlags(flags: NetworkFlags): NetworkRequest {
  const nicSpecs = flags.nic ?? [];
  const forwards = (flags.forward ?? []).map(parseForward);
  const ips = (flags.ip ?? []).map(parseIp);
  const nameservers = (flags.nameserver ?? []).map((a) => parseIpv4(a, "DNS address"));
  if (flags.noNet) {
    const conflicting = [
      flags.networking && "-n",
      flags.vhost && "-v",
      nicSpecs.length > 0 && "--nic",
      forwards.length > 0 && "--forward",
      flags.netRestrict && "--net-restrict",
      flags.mac !== undefined && "--mac",
      flags.bridge !== undefined && "--bridge",
      ips.length > 0 && "--ip",
      flags.defaultgw !== undefined && "--defaultgw",
      nameservers.length > 0 && "--nameserver",
    ].filter((f): f is string => typeof f === "string");
    if (conflicting.length > 0) {
      throw new ValidationError(`--no-net gives the VM no NIC, but ${conflicting.join(", ")} configure one`);
    }
    return { nics: [] };
  }
  if (nicSpecs.length > 0 && (flags.networking || flags.vhost)) {
    throw new ValidationError(
      `${flags.vhost ? "-v" : "-n"} describes the only NIC and --nic lists them all: write ` +
        `--nic tap${flags.vhost ? ",vhost=on" : ""} instead`,
    );
  }
  const nics: NicRequest[] = nicSpecs.length > 0
    ? nicSpecs.map(parseNicSpec)
    : [flags.networking || flags.vhost ? { kind: "tap", vhost: flags.vhost ?? false } : { kind: "user" }];
  const first = nics[0]!;
  if (forwards.length > 0 || flags.netRestrict) {
    if (first.kind !== "user") {
      throw new ValidationError(
        `${forwards.length > 0 ? "--forward" : "--net-restrict"} needs eth0 on the user-mode network, but it is ` +
          "on a tap device: the guest has its own address on the bridge, connect to it directly",
      );
    }
    nics[0] = {
      ...first,
      forwards: [...first.forwards ?? [], ...forwards],
      restrict: (first.restrict ?? false) || (flags.netRestrict ?? false),
    };
  }
  if (flags.mac !== undefined) {
    const mac = parseMac(flags.mac);
    if (nics[0]!.mac !== undefined && nics[0]!.mac !== mac) {
      throw new ValidationError(`--mac ${mac} and --nic ...,mac=${nics[0]!.mac} both set eth0's MAC`);
    }
    nics[0] = { ...nics[0]!, mac };
  }
  if (flags.bridge !== undefined && !nics.some((n) => n.kind === "tap")) {
    throw new ValidationError("--bridge applies to tap networking: add -n (or -v, or --nic tap)");
  }
  const gateways = new Set([
    ...ips.flatMap((ip) => ip.gateway ?? []),
    ...(flags.defaultgw === undefined ? [] : [parseIpv4(flags.defaultgw, "gateway address")]),
  ]);
  if (gateways.size > 1) throw new ValidationError(`more than one default gateway: ${[...gateways].join(", ")}`);
  const [gateway] = gateways;
  return {
    nics,
    ...(flags.bridge === undefined ? {} : { bridge: parseInterfaceName(flags.bridge, "bridge") }),
    ...(flags.vhostFallback ? { vhostFallback: true } : {}),
    addresses: ips.map((ip) => ip.address),
    ...(gateway === undefined ? {} : { gateway }),
    nameservers: [...new Set([...ips.flatMap((ip) => ip.nameserver ?? []), ...nameservers])],
  };
}

/**
 * Resolves a network request: fills in MACs, tap device names and bridges, checks vhost-net, and gives
 * the kernel options for the static addresses.
 *
 * @param request the request (default: one NIC on the user-mode network)
 * @param ctx the image path, the process id and the vhost-net probe
 * @returns the NICs, kernel options and warnings
 * @throws ValidationError (exit status 2) for requests that cannot work (too many NICs, duplicate MACs or
 *   forwards, an address for a NIC the VM does not have)
 * @throws Error when vhost-net is asked for, missing and `vhostFallback` is not set
 */
export function resolveNetwork(request: NetworkRequest, ctx: ResolveContext): ResolvedNetwork {
  const requested = request.nics ?? [{ kind: "user" }];
  if (requested.length > MAX_NICS) {
    throw new ValidationError(`the kernel supports at most ${MAX_NICS} NICs, ${requested.length} were given`);
  }
  const warnings: string[] = [];
  const macs = new Map<string, number>();
  const forwards = new Map<string, number>();
  const taps = new Set<string>();
  let vhostProblem: string | null | undefined;
  const nics = requested.map((nic, index): VmNic => {
    const mac = nic.mac === undefined ? defaultMac(ctx.image, index) : parseMac(nic.mac);
    const other = macs.get(mac);
    if (other !== undefined) throw new ValidationError(`eth${other} and eth${index} have the same MAC ${mac}`);
    macs.set(mac, index);
    if (nic.kind === "user") {
      for (const f of nic.forwards ?? []) {
        const key = `${f.protocol}:${f.hostAddress}:${f.hostPort}`;
        if (forwards.has(key)) throw new ValidationError(`host port ${f.protocol}:${f.hostPort} is forwarded twice`);
        forwards.set(key, index);
      }
      return { mac, backend: { kind: "user", forwards: [...nic.forwards ?? []], restrict: nic.restrict ?? false } };
    }
    const ifname = nic.ifname ?? `osv${ctx.pid}-${index}`;
    if (taps.has(ifname)) throw new ValidationError(`tap device ${ifname} is given to two NICs`);
    taps.add(ifname);
    const bridge = nic.bridge !== undefined
      ? nic.bridge
      : nic.ifname === undefined
      ? request.bridge ?? DEFAULT_BRIDGE
      : null;
    let vhost = nic.vhost ?? false;
    if (vhost) {
      vhostProblem ??= ctx.vhostProblem();
      if (vhostProblem !== null) {
        if (!request.vhostFallback) {
          throw new Error(
            `Cannot use vhost-net (-v): ${vhostProblem}. Run without -v, or add --vhost-fallback to run ` +
              "without vhost-net where it is missing",
          );
        }
        if (!warnings.some((w) => w.includes("vhost"))) {
          warnings.push(`osv: warning: ${vhostProblem}; running without vhost-net (--vhost-fallback)`);
        }
        vhost = false;
      }
    }
    return { mac, backend: { kind: "tap", ifname, bridge, vhost } };
  });
  const kernelOptions: string[] = [];
  const addressed = new Set<string>();
  for (const a of request.addresses ?? []) {
    const index = Number(a.iface.slice(3));
    if (!/^eth\d$/.test(a.iface) || index >= nics.length) {
      const have = nics.length === 0 ? "no NIC" : `${nics.length} NIC${nics.length === 1 ? "" : "s"}`;
      throw new ValidationError(`--ip gives ${a.iface} an address, but the VM has ${have}`);
    }
    if (addressed.has(a.iface)) throw new ValidationError(`--ip gives ${a.iface} two addresses`);
    addressed.add(a.iface);
    kernelOptions.push(`--ip=${a.iface},${parseIpv4(a.address)},${netmask(a.netmask)}`);
  }
  if (request.gateway !== undefined) {
    if (nics.length === 0) throw new ValidationError("--defaultgw needs a NIC, but the VM has none");
    kernelOptions.push(`--defaultgw=${parseIpv4(request.gateway, "gateway address")}`);
  }
  const nameservers = request.nameservers ?? [];
  if (nameservers.length > MAX_NAMESERVERS) {
    throw new ValidationError(
      `the kernel takes at most ${MAX_NAMESERVERS} DNS servers, ${nameservers.length} were given`,
    );
  }
  if (nameservers.length > 0 && nics.length === 0) {
    throw new ValidationError("--nameserver needs a NIC, but the VM has none");
  }
  for (const n of nameservers) kernelOptions.push(`--nameserver=${parseIpv4(n, "DNS address")}`);
  if (addressed.size > 0 && !addressed.has("eth0")) {
    warnings.push("osv: warning: eth0 gets no address: the kernel asks DHCP only when no --ip is given");
  }
  return { nics, kernelOptions, warnings };
}

/**
 * Kernel options that give user-mode NICs the addresses slirp's DHCP server would, so that the kernel skips
 * DHCP at boot (6 to 17 ms under TCG). Only where the kernel would have asked DHCP: eth0 on a user-mode
 * network and no `--ip` anywhere (the kernel asks DHCP for eth0 only, and only without `--ip`). Every
 * user-mode NIC then gets its address (DHCP never configured the others); the gateway and DNS server come
 * from eth0's network, unless given, and not for a restricted eth0, whose DHCP offers neither.
 *
 * @param nics the VM's NICs, in guest order
 * @param given the kernel options the command line has already (the image's or `-e`'s, and `osv run`'s)
 * @returns the options to add; `[]` when the guest should ask DHCP as before
 * @example
 * ```ts
 * import { userNetworkOptions } from "./net.ts";
 * const nic = { mac: "52:54:00:00:00:01", backend: { kind: "user", forwards: [], restrict: false } } as const;
 * const options = userNetworkOptions([nic], ["--nameserver=1.1.1.1"]);
 * if (options.join(" ") !== "--ip=eth0,10.0.2.15,255.255.255.0 --defaultgw=10.0.2.2") throw new Error();
 * ```
 */
export function userNetworkOptions(nics: readonly VmNic[], given: readonly string[]): string[] {
  const first = nics[0]?.backend;
  if (first?.kind !== "user" || given.some((o) => o.startsWith("--ip="))) return [];
  const options: string[] = [];
  let userIndex = 0;
  nics.forEach((nic, index) => {
    if (nic.backend.kind !== "user") return;
    const network = userNetwork(userIndex++);
    options.push(`--ip=eth${index},${network.address},${network.netmask}`);
  });
  if (!first.restrict) {
    const network = userNetwork(0);
    if (!given.some((o) => o.startsWith("--defaultgw="))) options.push(`--defaultgw=${network.gateway}`);
    if (!given.some((o) => o.startsWith("--nameserver="))) options.push(`--nameserver=${network.dns}`);
  }
  return options;
}
