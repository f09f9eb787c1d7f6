import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./_assert.ts";
import {
  defaultMac,
  MAX_NICS,
  type NetworkFlags,
  networkFromFlags,
  type NetworkRequest,
  parseForward,
  parseIp,
  parseMac,
  parseNicSpec,
  QEMU_DEFAULT_MAC,
  type ResolveContext,
  resolveNetwork,
  userNetwork,
  userNetworkOptions,
} from "../../core/net.ts";
import {
  checkHostNetwork,
  type CommandRunner,
  type HostNetProbe,
  type LinkKind,
  planHostNetwork,
  setUpHostNetwork,
  tearDownHostNetwork,
} from "../../core/hostnet.ts";
import { findExecutable, kernelOptionWords, programOffset, withKernelOptions } from "../../core/host.ts";
import { netdevValue } from "../../hypervisors/_qemu_common.ts";
import { qemuPcCommand } from "../../hypervisors/qemu.ts";
import { qemuMicrovmCommand } from "../../hypervisors/qemu_microvm.ts";
import { main } from "../../core/cli.ts";
import { definePlugin, runImage, ValidationError, type VmNic, type VmSpec } from "../../mod.ts";
import { captureIO, fixtures, removeDryRunFiles, staticHello, stubKernel, withEnv } from "./_helpers.ts";
import { qemuBinary } from "../../hypervisors/_qemu_common.ts";

const ctx: ResolveContext = { image: "/images/server.img", pid: 4242, vhostProblem: () => null };
const resolve = (request: NetworkRequest, over: Partial<ResolveContext> = {}) =>
  resolveNetwork(request, { ...ctx, ...over });
const fromFlags = (flags: NetworkFlags) => resolve(networkFromFlags(flags));

// --- parsing ---------------------------------------------------------------------------------------------

Deno.test("parseForward() takes HOSTPORT, HOSTPORT:GUESTPORT, a protocol and a host address", () => {
  const local = "127.0.0.1";
  assertEquals(parseForward("8080"), { protocol: "tcp", hostAddress: local, hostPort: 8080, guestPort: 8080 });
  assertEquals(parseForward("tcp:8080:80"), { protocol: "tcp", hostAddress: local, hostPort: 8080, guestPort: 80 });
  assertEquals(parseForward("udp:5353:53"), { protocol: "udp", hostAddress: local, hostPort: 5353, guestPort: 53 });
  assertEquals(parseForward("UDP:5353"), { protocol: "udp", hostAddress: local, hostPort: 5353, guestPort: 5353 });
  assertEquals(parseForward("tcp:0.0.0.0:8080:80"), {
    protocol: "tcp",
    hostAddress: "0.0.0.0",
    hostPort: 8080,
    guestPort: 80,
  });
});

Deno.test("parseForward() takes QEMU's hostfwd syntax as OSv's run.py does, still on 127.0.0.1 by default", () => {
  assertEquals(parseForward("tcp::8000-:80"), {
    protocol: "tcp",
    hostAddress: "127.0.0.1",
    hostPort: 8000,
    guestPort: 80,
  });
  assertEquals(parseForward(":10.1.2.3:8000-10.0.2.20:80"), {
    protocol: "tcp",
    hostAddress: "10.1.2.3",
    hostPort: 8000,
    guestAddress: "10.0.2.20",
    guestPort: 80,
  });
  assertEquals(parseForward("udp::53-:53").protocol, "udp");
});

Deno.test("parseForward() says what is wrong with a bad rule", () => {
  for (
    const [rule, message] of [
      ["tcp:abc:1", `"abc" is not a port number (1..65535)`],
      ["tcp:0:80", `"0" is not a port number`],
      ["tcp:8080:65536", `"65536" is not a port number`],
      ["sctp:80:80", `unknown protocol "sctp" (tcp or udp)`],
      ["tcp:1:2:3:4", "is not a forward rule"],
      ["", `"" is not a forward rule`],
      ["tcp:300.1.1.1:80:80", `"300.1.1.1" is not an IPv4 host address`],
      ["tcp::80-:x", `"x" is not a port number`],
      ["tcp:80-80", "is not a forward rule"],
    ]
  ) {
    const err = assertThrows(() => parseForward(rule!), RangeError);
    assertStringIncludes(err.message, message!);
    assertStringIncludes(err.message, "expected [tcp:|udp:][HOSTADDR:]HOSTPORT[:GUESTPORT]");
  }
});

Deno.test("parseMac() normalises and refuses multicast and zero addresses", () => {
  assertEquals(parseMac("52:54:00:AB:cd:EF"), "52:54:00:ab:cd:ef");
  assertEquals(parseMac("02-00-00-00-00-01"), "02:00:00:00:00:01");
  assertStringIncludes(assertThrows(() => parseMac("01:00:5e:00:00:01")).message, "multicast");
  assertStringIncludes(assertThrows(() => parseMac("00:00:00:00:00:00")).message, "not a usable MAC");
  assertStringIncludes(assertThrows(() => parseMac("52:54:00:12:34")).message, "not a MAC address");
  assertStringIncludes(assertThrows(() => parseMac("52:54:00:12:34:zz")).message, "not a MAC address");
});

Deno.test("defaultMac() is locally administered unicast, the same for the same image and NIC, else different", () => {
  const a0 = defaultMac("/images/a.img", 0);
  assertEquals(a0, defaultMac("/images/a.img", 0));
  assert(/^52:54:00(:[0-9a-f]{2}){3}$/.test(a0), a0);
  const first = parseInt(a0.slice(0, 2), 16);
  assertEquals(first & 0b11, 0b10, "locally administered, unicast");
  const macs = new Set<string>();
  for (const image of ["/images/a.img", "/images/b.img", "/other/a.img"]) {
    for (let i = 0; i < MAX_NICS; i++) macs.add(defaultMac(image, i));
  }
  assertEquals(macs.size, 9);
  assert(!macs.has(QEMU_DEFAULT_MAC));
});

Deno.test("parseNicSpec() reads user and tap NICs with their options", () => {
  assertEquals(parseNicSpec("user"), { kind: "user", forwards: [], restrict: false });
  assertEquals(parseNicSpec("user,forward=tcp:8080:80,forward=udp:53,restrict=on,mac=52:54:00:00:00:09"), {
    kind: "user",
    forwards: [
      { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestPort: 80 },
      { protocol: "udp", hostAddress: "127.0.0.1", hostPort: 53, guestPort: 53 },
    ],
    restrict: true,
    mac: "52:54:00:00:00:09",
  });
  assertEquals(parseNicSpec("tap"), { kind: "tap", vhost: false });
  assertEquals(parseNicSpec("tap,ifname=tap7,bridge=none,vhost=on"), {
    kind: "tap",
    ifname: "tap7",
    bridge: null,
    vhost: true,
  });
  assertEquals(parseNicSpec("tap,bridge=br0"), { kind: "tap", vhost: false, bridge: "br0" });
  for (
    const [spec, message] of [
      ["wifi", `unknown NIC kind "wifi" (user or tap)`],
      ["user,ifname=x", `unknown user NIC option "ifname" (forward, restrict, mac)`],
      ["tap,forward=80", `unknown tap NIC option "forward" (ifname, bridge, vhost, mac)`],
      ["tap,vhost=yes", "expected vhost=on or vhost=off"],
      ["tap,bridge", `"bridge" is not KEY=VALUE`],
      ["tap,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", "mac= is given twice"],
      ["tap,ifname=a-very-long-tap-name", "is not a tap device name (1 to 15 letters"],
      ["tap,bridge=br,0", `"0" is not KEY=VALUE`],
      ["user,forward=tcp:x", `"x" is not a port number`],
    ]
  ) {
    assertStringIncludes(assertThrows(() => parseNicSpec(spec!), RangeError).message, message!);
  }
});

Deno.test("parseIp() takes ADDR/MASK[,GW[,DNS]] for eth0 and OSv's IFACE,ADDR,NETMASK", () => {
  assertEquals(parseIp("192.168.122.10/24"), {
    address: { iface: "eth0", address: "192.168.122.10", netmask: "255.255.255.0" },
  });
  assertEquals(parseIp("10.1.2.3/255.255.0.0,10.1.0.1,10.1.0.53"), {
    address: { iface: "eth0", address: "10.1.2.3", netmask: "255.255.0.0" },
    gateway: "10.1.0.1",
    nameserver: "10.1.0.53",
  });
  assertEquals(parseIp("10.0.0.5/0").address.netmask, "0.0.0.0");
  assertEquals(parseIp("10.0.0.5/32").address.netmask, "255.255.255.255");
  assertEquals(parseIp("eth1,10.0.3.15,255.255.255.0"), {
    address: { iface: "eth1", address: "10.0.3.15", netmask: "255.255.255.0" },
  });
  for (
    const [text, message] of [
      ["192.168.122.10", "has no /MASK"],
      ["192.168.122.10/33", `"33" is not an IPv4 netmask`],
      ["10.0.0.1/255.0.255.0", "not a netmask (its ones are not contiguous)"],
      ["10.0.0.256/24", `"10.0.0.256" is not an IPv4 address`],
      ["eth0,10.0.0.1", "is not an address"],
      ["wlan0,10.0.0.1,255.0.0.0", `"wlan0" is not a guest interface`],
      ["10.0.0.1/24,10.0.0.x", `"10.0.0.x" is not an IPv4 gateway address`],
    ]
  ) {
    assertStringIncludes(assertThrows(() => parseIp(text!), RangeError).message, message!);
  }
});

// --- flags and resolution -------------------------------------------------------------------------------

Deno.test("the default is one NIC on the user-mode network, unrestricted, with a MAC from the image", () => {
  const network = fromFlags({});
  assertEquals(network, {
    nics: [{ mac: defaultMac(ctx.image, 0), backend: { kind: "user", forwards: [], restrict: false } }],
    kernelOptions: [],
    warnings: [],
  });
  assertEquals(resolve({}).nics, network.nics);
});

Deno.test("--forward, --net-restrict and --mac describe eth0 on the user-mode network", () => {
  const network = fromFlags({ forward: ["tcp:8080:80", "udp:5353:53"], netRestrict: true, mac: "52:54:00:AA:BB:CC" });
  assertEquals(network.nics, [{
    mac: "52:54:00:aa:bb:cc",
    backend: {
      kind: "user",
      restrict: true,
      forwards: [
        { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestPort: 80 },
        { protocol: "udp", hostAddress: "127.0.0.1", hostPort: 5353, guestPort: 53 },
      ],
    },
  }]);
});

Deno.test("-n gives eth0 a tap device named after the process, on virbr0 or --bridge; -v adds vhost-net", () => {
  assertEquals(fromFlags({ networking: true }).nics[0]!.backend, {
    kind: "tap",
    ifname: "osv4242-0",
    bridge: "virbr0",
    vhost: false,
  });
  assertEquals(fromFlags({ vhost: true, bridge: "br0" }).nics[0]!.backend, {
    kind: "tap",
    ifname: "osv4242-0",
    bridge: "br0",
    vhost: true,
  });
  // A named tap is used as it is: no bridge unless one is named.
  assertEquals(fromFlags({ nic: ["tap,ifname=tap0"] }).nics[0]!.backend, {
    kind: "tap",
    ifname: "tap0",
    bridge: null,
    vhost: false,
  });
  assertEquals(fromFlags({ nic: ["tap,ifname=tap0,bridge=br1"] }).nics[0]!.backend.kind, "tap");
});

Deno.test("--no-net gives no NIC", () => {
  assertEquals(fromFlags({ noNet: true }), { nics: [], kernelOptions: [], warnings: [] });
});

Deno.test("several NICs: --nic lists them in guest order, each with its own MAC", () => {
  const network = fromFlags({
    nic: ["user,forward=8080", "tap,bridge=br0", "user,restrict=on"],
    bridge: "br9",
    mac: "52:54:00:00:00:01",
  });
  assertEquals(network.nics.map((n) => n.backend.kind), ["user", "tap", "user"]);
  assertEquals(network.nics[0]!.mac, "52:54:00:00:00:01");
  assertEquals(network.nics[1]!.mac, defaultMac(ctx.image, 1));
  assertEquals(network.nics[2]!.mac, defaultMac(ctx.image, 2));
  assertEquals(network.nics[1]!.backend, { kind: "tap", ifname: "osv4242-1", bridge: "br0", vhost: false });
});

Deno.test("--ip, --defaultgw and --nameserver become the kernel's --ip=, --defaultgw=, --nameserver=", () => {
  assertEquals(fromFlags({ ip: ["192.168.122.10/24,192.168.122.1,192.168.122.1"] }).kernelOptions, [
    "--ip=eth0,192.168.122.10,255.255.255.0",
    "--defaultgw=192.168.122.1",
    "--nameserver=192.168.122.1",
  ]);
  assertEquals(
    fromFlags({
      nic: ["user", "user"],
      ip: ["eth0,10.0.2.15,255.255.255.0", "eth1,10.0.3.15,255.255.255.0"],
      defaultgw: "10.0.2.2",
      nameserver: ["10.0.2.3", "1.1.1.1"],
    }).kernelOptions,
    [
      "--ip=eth0,10.0.2.15,255.255.255.0",
      "--ip=eth1,10.0.3.15,255.255.255.0",
      "--defaultgw=10.0.2.2",
      "--nameserver=10.0.2.3",
      "--nameserver=1.1.1.1",
    ],
  );
});

Deno.test("an address for eth1 only warns that eth0 then gets none (the kernel skips DHCP)", () => {
  const network = fromFlags({ nic: ["user", "user"], ip: ["eth1,10.0.3.15,255.255.255.0"] });
  assertEquals(network.warnings, [
    "osv: warning: eth0 gets no address: the kernel asks DHCP only when no --ip is given",
  ]);
});

Deno.test("contradicting network flags are a ValidationError (exit status 2) saying which", () => {
  for (
    const [flags, message] of <[NetworkFlags, string][]> [
      [{ noNet: true, forward: ["80"] }, "--no-net gives the VM no NIC, but --forward configure one"],
      [{ noNet: true, networking: true, mac: "52:54:00:00:00:01" }, "but -n, --mac configure one"],
      [{ noNet: true, ip: ["10.0.0.2/24"] }, "but --ip configure one"],
      [{ networking: true, nic: ["user"] }, "-n describes the only NIC and --nic lists them all"],
      [{ vhost: true, nic: ["tap"] }, "write --nic tap,vhost=on instead"],
      [{ networking: true, forward: ["8080"] }, "--forward needs eth0 on the user-mode network, but it is on a tap"],
      [{ nic: ["tap"], netRestrict: true }, "--net-restrict needs eth0 on the user-mode network"],
      [{ bridge: "br0" }, "--bridge applies to tap networking: add -n"],
      [{ nic: ["user,mac=52:54:00:00:00:01"], mac: "52:54:00:00:00:02" }, "both set eth0's MAC"],
      [{ ip: ["10.0.0.2/24,10.0.0.1"], defaultgw: "10.0.0.254" }, "more than one default gateway"],
      [{ nic: ["user", "user", "user", "user"] }, `the kernel supports at most ${MAX_NICS} NICs, 4 were given`],
      [{ nic: ["user,mac=52:54:00:00:00:01", "tap,mac=52:54:00:00:00:01"] }, "eth0 and eth1 have the same MAC"],
      [{ nic: ["user,forward=8080", "user,forward=8080:80"] }, "host port tcp:8080 is forwarded twice"],
      [{ nic: ["tap,ifname=t0", "tap,ifname=t0"] }, "tap device t0 is given to two NICs"],
      [{ ip: ["eth1,10.0.0.2,255.0.0.0"] }, "--ip gives eth1 an address, but the VM has 1 NIC"],
      [{ ip: ["10.0.0.2/8", "eth0,10.0.0.3,255.0.0.0"] }, "--ip gives eth0 two addresses"],
      [{ nameserver: ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"] }, "at most 3 DNS servers, 4 were given"],
    ]
  ) {
    const err = assertThrows(() => fromFlags(flags), ValidationError);
    assertStringIncludes(err.message, message);
    assertEquals(err.exitCode, 2);
  }
  // Not the same rule twice: the same port on two protocols or two addresses is fine.
  assertEquals(fromFlags({ forward: ["tcp:53", "udp:53", "tcp:10.1.1.1:53:53"] }).nics.length, 1);
  // Through the API a VM without NICs cannot get addresses either.
  assertStringIncludes(
    assertThrows(() => resolve({ nics: [], gateway: "10.0.0.1" }), ValidationError).message,
    "--defaultgw needs a NIC",
  );
  assertStringIncludes(
    assertThrows(() => resolve({ nics: [], nameservers: ["10.0.0.1"] }), ValidationError).message,
    "--nameserver needs a NIC",
  );
});

Deno.test("-v without /dev/vhost-net is an error with the hint, unless --vhost-fallback (then a warning)", () => {
  const missing = { vhostProblem: () => "/dev/vhost-net does not exist (load the module as root: modprobe vhost_net)" };
  const err = assertThrows(() => resolve(networkFromFlags({ vhost: true }), missing));
  assert(!(err instanceof ValidationError), "a host problem, not a usage error");
  assertEquals(
    err.message,
    "Cannot use vhost-net (-v): /dev/vhost-net does not exist (load the module as root: modprobe vhost_net). " +
      "Run without -v, or add --vhost-fallback to run without vhost-net where it is missing",
  );
  const fallback = resolve(networkFromFlags({ vhost: true, vhostFallback: true }), missing);
  assertEquals(fallback.nics[0]!.backend, { kind: "tap", ifname: "osv4242-0", bridge: "virbr0", vhost: false });
  assertEquals(fallback.warnings, [
    "osv: warning: /dev/vhost-net does not exist (load the module as root: modprobe vhost_net); running without " +
    "vhost-net (--vhost-fallback)",
  ]);
  // The probe is not asked when nobody wants vhost-net.
  resolve(networkFromFlags({ networking: true }), { vhostProblem: () => assert(false, "probed") as never });
});

Deno.test("kernel options go after the command line's own options, before the program", () => {
  assertEquals(withKernelOptions(["--ip=eth0,1.2.3.4,255.0.0.0"], "/app x"), "--ip=eth0,1.2.3.4,255.0.0.0 /app x");
  assertEquals(
    withKernelOptions(
      ["--verbose", "--ip=eth0,1.2.3.4,255.0.0.0"],
      "--ip=eth0,9.9.9.9,255.0.0.0 --env='A=b c' /app --ip=x",
    ),
    "--ip=eth0,9.9.9.9,255.0.0.0 --env='A=b c' --verbose --ip=eth0,1.2.3.4,255.0.0.0 /app --ip=x",
  );
  assertEquals(withKernelOptions(["--verbose"], "  --env=A=1  "), "--env=A=1 --verbose");
  assertEquals(programOffset(`--env="x y" /app`), 12);
  assertEquals(programOffset(`--env="x y" \\--still-an-option`), 30);
  assertEquals(programOffset(""), 0);
  assertEquals(kernelOptionWords(`--env="x --ip=y" \\--still-an-option /app --ip=z`), [
    "--env=x --ip=y",
    "--still-an-option",
  ]);
  assertEquals(kernelOptionWords("/app --ip=z"), []);
  assertEquals(kernelOptionWords(""), []);
});

// --- QEMU arguments -------------------------------------------------------------------------------------

const base: VmSpec = {
  kernelPath: "/tmp/k.elf",
  disks: [],
  cmdline: "/app",
  memMiB: 64,
  cpus: 1,
  accel: "tcg",
  controlPath: "/tmp/ctl",
  imageName: "server.img",
  nics: [],
};
const user = (forwards: string[] = [], restrict = false, mac = "52:54:00:00:00:01"): VmNic => ({
  mac,
  backend: { kind: "user", forwards: forwards.map(parseForward), restrict },
});
const tap = (ifname: string, bridge: string | null, vhost: boolean, mac = "52:54:00:00:00:02"): VmNic => ({
  mac,
  backend: { kind: "tap", ifname, bridge, vhost },
});
/** The network arguments: everything from the first -netdev on (they come last). */
const netArgs = (args: string[]) => args.includes("-netdev") ? args.slice(args.indexOf("-netdev")) : [];

Deno.test("user-mode networking with forwards: -netdev user,hostfwd=... and virtio-net-pci (pc)", () => {
  const spec = { ...base, nics: [user(["tcp:8080:80", "udp:0.0.0.0:5353:53", "tcp::2222-10.0.2.20:22"])] };
  assertEquals(netArgs(qemuPcCommand(spec).args), [
    "-netdev",
    "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53,hostfwd=tcp:127.0.0.1:2222-10.0.2.20:22",
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
  ]);
});

Deno.test("user-mode networking on microvm uses virtio-net-device (QEMU names it on the kernel command line)", () => {
  const spec = { ...base, nics: [user(["8080"])] };
  assertEquals(netArgs(qemuMicrovmCommand(spec).args), [
    "-netdev",
    "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080",
    "-device",
    "virtio-net-device,netdev=n0,mac=52:54:00:00:00:01",
  ]);
});

Deno.test("--net-restrict is restrict=on", () => {
  assertEquals(netdevValue(user(["80"], true).backend, "n0", 0), "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:80-:80");
});

Deno.test("no NIC: no -netdev and no net device (and -nodefaults keeps QEMU from adding one)", () => {
  for (const args of [qemuPcCommand(base).args, qemuMicrovmCommand(base).args]) {
    assertEquals(args.filter((a) => a.includes("net")), []);
    assert(args.includes("-nodefaults"));
  }
});

Deno.test("a tap NIC opens the tap osv created: script=no, downscript=no; vhost=on with -v", () => {
  assertEquals(netArgs(qemuPcCommand({ ...base, nics: [tap("osv1-0", "virbr0", false)] }).args), [
    "-netdev",
    "tap,id=n0,ifname=osv1-0,script=no,downscript=no",
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02",
  ]);
  assertEquals(netArgs(qemuMicrovmCommand({ ...base, nics: [tap("osv1-0", "br0", true)] }).args), [
    "-netdev",
    "tap,id=n0,ifname=osv1-0,script=no,downscript=no,vhost=on",
    "-device",
    "virtio-net-device,netdev=n0,mac=52:54:00:00:00:02",
  ]);
});

Deno.test("several NICs keep their order; user-mode NICs after the first get subnets of their own", () => {
  const nics = [
    user(["8080"], false, "52:54:00:00:00:01"),
    tap("t0", null, false, "52:54:00:00:00:02"),
    user([], true, "52:54:00:00:00:03"),
  ];
  assertEquals(netArgs(qemuPcCommand({ ...base, nics }).args), [
    "-netdev",
    "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:8080",
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
    "-netdev",
    "tap,id=n1,ifname=t0,script=no,downscript=no",
    "-device",
    "virtio-net-pci,netdev=n1,mac=52:54:00:00:00:02",
    "-netdev",
    "user,id=n2,net=10.0.3.0/24,restrict=on",
    "-device",
    "virtio-net-pci,netdev=n2,mac=52:54:00:00:00:03",
  ]);
});

Deno.test("userNetwork(n): slirp's 10.0.(2+n).0/24, guest .15, gateway .2, DNS .3; n out of range throws", () => {
  assertEquals(userNetwork(0), {
    net: "10.0.2.0/24",
    address: "10.0.2.15",
    netmask: "255.255.255.0",
    gateway: "10.0.2.2",
    dns: "10.0.2.3",
  });
  assertEquals(userNetwork(2).net, "10.0.4.0/24");
  for (const n of [-1, MAX_NICS, 1.5]) {
    assertEquals(
      assertThrows(() => userNetwork(n), RangeError).message,
      `${n} is not a user-mode NIC index (0..${MAX_NICS - 1})`,
    );
  }
});

Deno.test("userNetworkOptions() gives user-mode NICs slirp's addresses instead of DHCP, only what is not given", () => {
  const slirp = ["--ip=eth0,10.0.2.15,255.255.255.0", "--defaultgw=10.0.2.2", "--nameserver=10.0.2.3"];
  assertEquals(userNetworkOptions([user()], []), slirp);
  assertEquals(userNetworkOptions([user(["tcp:8080:80"])], ["--verbose", "--env=A=1"]), slirp, "forwards");
  // Two user-mode NICs: two slirp networks, each address given (DHCP only ever configured eth0).
  assertEquals(userNetworkOptions([user(), user([], false, "52:54:00:00:00:03")], []), [
    "--ip=eth0,10.0.2.15,255.255.255.0",
    "--ip=eth1,10.0.3.15,255.255.255.0",
    "--defaultgw=10.0.2.2",
    "--nameserver=10.0.2.3",
  ]);
  // A tap between them: the second user-mode NIC is still the second slirp network (as nicArgs numbers it).
  assertEquals(userNetworkOptions([user(), tap("t0", null, false), user([], true, "52:54:00:00:00:03")], []), [
    "--ip=eth0,10.0.2.15,255.255.255.0",
    "--ip=eth2,10.0.3.15,255.255.255.0",
    "--defaultgw=10.0.2.2",
    "--nameserver=10.0.2.3",
  ]);
  // restrict=on: slirp's DHCP offers no router and no DNS server, so only the address.
  assertEquals(userNetworkOptions([user([], true)], []), ["--ip=eth0,10.0.2.15,255.255.255.0"]);
  // What the user gave stays theirs.
  assertEquals(userNetworkOptions([user()], ["--nameserver=1.1.1.1"]), slirp.slice(0, 2));
  assertEquals(userNetworkOptions([user()], ["--defaultgw=10.0.2.9"]), [slirp[0], slirp[2]]);
  // Any --ip (here for eth1 only): the kernel would not have asked DHCP, nothing is added.
  assertEquals(userNetworkOptions([user(), user()], ["--ip=eth1,10.0.3.16,255.255.255.0"]), []);
  // eth0 on a tap: the kernel asks its bridge's DHCP server, which a --ip for eth1 would stop.
  assertEquals(userNetworkOptions([tap("t0", "virbr0", false), user()], []), []);
  assertEquals(userNetworkOptions([], []), []);
});

Deno.test({
  name: "QEMU itself accepts the user-mode network arguments on pc and microvm (-S, then quit)",
  ignore: findExecutable(qemuBinary()) === null,
  async fn() {
    const kernel = await stubKernel();
    const dir = await Deno.makeTempDir({ prefix: "osv-net-qemu-" });
    const freePort = () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      listener.close();
      return port;
    };
    try {
      const specs: VmSpec[] = [
        base,
        { ...base, nics: [user([`tcp:${freePort()}:80`, `udp:${freePort()}:53`])] },
        { ...base, nics: [user([], true), user([], false, "52:54:00:00:00:07"), user([], true, "52:54:00:00:00:08")] },
      ];
      for (const spec of specs) {
        for (const command of [qemuPcCommand, qemuMicrovmCommand]) {
          const args = command({ ...spec, kernelPath: kernel, controlPath: `${dir}/control` }).args;
          // The console moves off stdio so that the monitor can have it; -S: stop before the first instruction.
          args.splice(args.indexOf("-serial"), 2, "-serial", "none", "-S", "-monitor", "stdio");
          const child = new Deno.Command(qemuBinary(), { args, stdin: "piped", stdout: "null", stderr: "piped" })
            .spawn();
          const writer = child.stdin.getWriter();
          await writer.write(new TextEncoder().encode("quit\n"));
          await writer.close();
          const out = await child.output();
          assertEquals(out.code, 0, `${args.join(" ")}\n${new TextDecoder().decode(out.stderr)}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// --- host setup (tap devices, bridges) ------------------------------------------------------------------

function fakeHost(over: Partial<HostNetProbe> & { links?: Record<string, LinkKind> } = {}): HostNetProbe {
  const links = over.links ?? {};
  return {
    link: (name) => links[name] ?? "missing",
    master: () => null,
    up: () => false,
    deviceProblem: () => null,
    netAdmin: () => true,
    hasProgram: () => true,
    ...over,
  };
}
const commands = (list: { command: string; args: string[] }[]) => list.map((c) => [c.command, ...c.args].join(" "));

Deno.test("planHostNetwork() creates a missing tap and bridge, puts the tap on it, deletes only the tap after", () => {
  const plan = planHostNetwork([user(), tap("osv1-1", "virbr0", false)], fakeHost());
  assertEquals(commands(plan.setup), [
    "ip tuntap add dev osv1-1 mode tap",
    "ip link add name virbr0 type bridge",
    "ip link set virbr0 up",
    "ip link set osv1-1 master virbr0",
    "ip link set osv1-1 up",
  ]);
  assertEquals(commands(plan.teardown), ["ip link del osv1-1"]);
  assertEquals(plan.notes.length, 1);
  assertStringIncludes(plan.notes[0]!, "osv: created bridge virbr0; it stays after the VM");
});

Deno.test("planHostNetwork() uses an existing bridge and an existing tap as they are", () => {
  const host = fakeHost({ links: { br0: "bridge", tap0: "tap" }, master: () => "br0", up: () => true });
  const plan = planHostNetwork([tap("osv1-0", "br0", false), tap("tap0", "br0", false)], host);
  assertEquals(commands(plan.setup), [
    "ip tuntap add dev osv1-0 mode tap",
    "ip link set osv1-0 master br0",
    "ip link set osv1-0 up",
  ]);
  assertEquals(commands(plan.teardown), ["ip link del osv1-0"]);
  assertEquals(plan.notes, []);
  assertEquals(planHostNetwork([tap("tap0", null, false)], host).setup, []);
  assertEquals(planHostNetwork([user()], host), { setup: [], teardown: [], notes: [] });
});

Deno.test("planHostNetwork() refuses names taken by other kinds of interfaces", () => {
  const host = fakeHost({ links: { eth0: "other", br0: "bridge" } });
  assertEquals(
    assertThrows(() => planHostNetwork([tap("eth0", null, false)], host)).message,
    `Cannot use "eth0" as the tap device of eth0: it exists and is not a tap device`,
  );
  assertEquals(
    assertThrows(() => planHostNetwork([tap("osv1-0", "eth0", false)], host)).message,
    `Cannot put osv1-0 on bridge "eth0": eth0 exists and is not a bridge`,
  );
});

Deno.test("checkHostNetwork() says exactly what is missing for tap networking and how to get it", () => {
  const nics = [tap("osv1-0", "virbr0", false)];
  const plan = planHostNetwork(nics, fakeHost());
  checkHostNetwork(nics, plan, fakeHost());
  checkHostNetwork([user()], plan, fakeHost({ netAdmin: () => false, deviceProblem: () => "gone" }));
  const err = assertThrows(() =>
    checkHostNetwork(
      nics,
      plan,
      fakeHost({ netAdmin: () => false, hasProgram: () => false, deviceProblem: (p) => `${p} does not exist` }),
    )
  );
  assertEquals(
    err.message,
    "Cannot set up tap networking: /dev/net/tun does not exist (load the tun module: modprobe tun; in a " +
      "container, start it with --device /dev/net/tun); creating tap devices and bridges needs root " +
      "(CAP_NET_ADMIN): run osv as root (sudo osv run -n ...), or create the tap beforehand (ip tuntap add dev " +
      "tap0 mode tap user $USER) and use --nic tap,ifname=tap0; the ip command is not installed (apt-get install " +
      "iproute2). Without tap networking, use the default user-mode network and reach the guest through port " +
      "forwards (--forward tcp:8080:8080)",
  );
  const denied = assertThrows(() =>
    checkHostNetwork(nics, plan, fakeHost({ deviceProblem: (p) => `no permission to open ${p}` }))
  );
  assertStringIncludes(denied.message, "no permission to open /dev/net/tun (run osv as root)");
  // A tap that exists and needs nothing done needs neither root nor ip.
  const ready = fakeHost({ links: { tap0: "tap" }, up: () => true, netAdmin: () => false, hasProgram: () => false });
  const own = [tap("tap0", null, false)];
  checkHostNetwork(own, planHostNetwork(own, ready), ready);
});

Deno.test("setUpHostNetwork() deletes the taps it made when a later command fails, and says which failed", async () => {
  const nics = [tap("osv1-0", "br0", false), tap("osv1-1", "br0", false)];
  const plan = planHostNetwork(nics, fakeHost({ links: { br0: "bridge" } }));
  const ran: string[] = [];
  const runner: CommandRunner = (command) => {
    const line = [command.command, ...command.args].join(" ");
    ran.push(line);
    return Promise.resolve(
      line === "ip link set osv1-1 master br0"
        ? { code: 2, stderr: "RTNETLINK answers: nope" }
        : { code: 0, stderr: "" },
    );
  };
  const err = await assertRejects(() => setUpHostNetwork(plan, runner));
  assertEquals(
    err.message,
    `Cannot set up tap networking: "ip link set osv1-1 master br0" failed: RTNETLINK answers: nope`,
  );
  assertEquals(ran, [
    "ip tuntap add dev osv1-0 mode tap",
    "ip link set osv1-0 master br0",
    "ip link set osv1-0 up",
    "ip tuntap add dev osv1-1 mode tap",
    "ip link set osv1-1 master br0",
    "ip link del osv1-1",
    "ip link del osv1-0",
  ]);
  const warnings = await tearDownHostNetwork(plan, () => Promise.resolve({ code: 1, stderr: "Cannot find device" }));
  assertEquals(warnings[0], `osv: warning: "ip link del osv1-1" failed: Cannot find device`);
});

// --- the CLI --------------------------------------------------------------------------------------------

let image: Promise<string> | undefined;
/** An image built with the stub kernel (osv run --dry-run only reads its header). */
function dryRunImage(): Promise<string> {
  image ??= (async () => {
    const dir = await fixtures();
    const io = captureIO();
    const status = await withEnv(
      { OSV_FAKE_KERNEL: await stubKernel() },
      async () =>
        main(
          [
            "build",
            await staticHello(),
            "-o",
            `${dir}/net-server.img`,
            "--plugin",
            `${ROOT}tests/plugins/fake_kernel.ts`,
          ],
          io,
        ),
    );
    assertEquals(status, 0, io.err);
    return `${dir}/net-server.img`;
  })();
  return image;
}
const ROOT = new URL("../../", import.meta.url).pathname;

async function dryRun(...args: string[]) {
  const io = captureIO();
  const status = await main(["run", await dryRunImage(), "--dry-run", "--accel", "tcg", ...args], io);
  await removeDryRunFiles(io.out);
  return { status, out: io.out, err: io.err };
}

Deno.test("osv run --forward: -netdev user with hostfwd on 127.0.0.1, a MAC from the image path", async () => {
  const { status, out, err } = await dryRun("--forward", "tcp:8080:80", "--forward", "8443");
  assertEquals(status, 0, err);
  const mac = defaultMac(Deno.realPathSync(await dryRunImage()), 0);
  assertStringIncludes(
    out,
    `-netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:8443-:8443 ` +
      `-device virtio-net-pci,netdev=n0,mac=${mac}\n`,
  );
  assertEquals(out.split("\n").length, 2, "one line: no host setup");
});

Deno.test("osv run puts slirp's addresses on the kernel command line unless the network is configured", async () => {
  const append = async (...args: string[]) => {
    const { status, out, err } = await dryRun(...args);
    assertEquals(status, 0, err);
    const match = /-append (?:'([^']*)'|(\S+))/.exec(out);
    return match?.[1] ?? match?.[2];
  };
  const slirp = "--ip=eth0,10.0.2.15,255.255.255.0 --defaultgw=10.0.2.2 --nameserver=10.0.2.3";
  assertEquals(await append(), `${slirp} /hello`);
  assertEquals(await append("--forward", "8080", "--bootchart"), `--bootchart ${slirp} /hello`);
  assertEquals(await append("--net-restrict"), "--ip=eth0,10.0.2.15,255.255.255.0 /hello");
  assertEquals(
    await append("--nic", "user", "--nic", "user,restrict=on"),
    "--ip=eth0,10.0.2.15,255.255.255.0 --ip=eth1,10.0.3.15,255.255.255.0 --defaultgw=10.0.2.2 " +
      "--nameserver=10.0.2.3 /hello",
  );
  assertEquals(
    await append("--ip", "10.0.2.16/24"),
    "--ip=eth0,10.0.2.16,255.255.255.0 /hello",
    "the user's --ip: no gateway or DNS server added, as the kernel had none without DHCP either",
  );
  assertEquals(
    await append("--nameserver", "1.1.1.1"),
    "--nameserver=1.1.1.1 --ip=eth0,10.0.2.15,255.255.255.0 --defaultgw=10.0.2.2 /hello",
  );
  assertEquals(
    await append("-e", "--ip=eth0,10.0.2.17,255.255.255.0 /hello"),
    "--ip=eth0,10.0.2.17,255.255.255.0 /hello",
    "an --ip on the command line counts too",
  );
  assertEquals(await append("--no-net"), "/hello");
});

Deno.test("osv run -n --dry-run prints the ip commands first, then QEMU with the tap", async () => {
  const bridge = `osvt${crypto.randomUUID().slice(0, 8)}`;
  const { status, out, err } = await dryRun("-n", "--bridge", bridge, "--ip", "192.168.122.10/24,192.168.122.1");
  assertEquals(status, 0, err);
  const tapName = `osv${Deno.pid}-0`;
  const lines = out.trimEnd().split("\n");
  assertEquals(lines.slice(0, -1), [
    `ip tuntap add dev ${tapName} mode tap`,
    `ip link add name ${bridge} type bridge`,
    `ip link set ${bridge} up`,
    `ip link set ${tapName} master ${bridge}`,
    `ip link set ${tapName} up`,
  ]);
  assertStringIncludes(lines.at(-1)!, `-netdev tap,id=n0,ifname=${tapName},script=no,downscript=no -device`);
  assertStringIncludes(
    lines.at(-1)!,
    "-append '--ip=eth0,192.168.122.10,255.255.255.0 --defaultgw=192.168.122.1 /hello'",
  );
});

Deno.test("osv run -v without /dev/vhost-net: status 1 and the hint; with --vhost-fallback a warning", async () => {
  await withEnv({ OSV_VHOST_DEVICE: "/nonexistent/vhost-net" }, async () => {
    const failed = await dryRun("-v");
    assertEquals(failed.status, 1);
    assertEquals(
      failed.err,
      "osv: error: Cannot use vhost-net (-v): /nonexistent/vhost-net does not exist (load the module as root: " +
        "modprobe vhost_net). Run without -v, or add --vhost-fallback to run without vhost-net where it is missing\n",
    );
    const fallback = await dryRun("-v", "--vhost-fallback");
    assertEquals(fallback.status, 0, fallback.err);
    assertStringIncludes(fallback.err, "running without vhost-net (--vhost-fallback)");
    assertStringIncludes(fallback.out, "script=no,downscript=no -device");
  });
  await withEnv({ OSV_VHOST_DEVICE: "/dev/null" }, async () => {
    const { status, out, err } = await dryRun("-v", "--hypervisor", "qemu-microvm");
    assertEquals(status, 0, err);
    assertStringIncludes(out, "script=no,downscript=no,vhost=on -device virtio-net-device,netdev=n0");
  });
});

Deno.test("osv run --no-net: no NIC; bad and contradicting network flags exit with status 2", async () => {
  const none = await dryRun("--no-net");
  assertEquals(none.status, 0, none.err);
  assertEquals(none.out.includes("-netdev"), false);
  for (
    const [args, message] of <[string[], string][]> [
      [["--forward", "tcp:abc:1"], `option '--forward <rule>' argument 'tcp:abc:1' is invalid. "abc" is not a port`],
      [["--mac", "ff:ff:ff:ff:ff:ff"], "is a multicast MAC address"],
      [["--nic", "wifi"], `unknown NIC kind "wifi"`],
      [["--ip", "10.0.0.1"], "has no /MASK"],
      [["--no-net", "--forward", "8080"], "--no-net gives the VM no NIC, but --forward configure one"],
      [["-n", "--forward", "8080"], "--forward needs eth0 on the user-mode network"],
      [["--bridge", "br0"], "--bridge applies to tap networking"],
    ]
  ) {
    const { status, out, err } = await dryRun(...args);
    assertEquals(status, 2, `${args.join(" ")}: ${err}`);
    assert(err.startsWith("osv: error: "), err);
    assertStringIncludes(err, message);
    assertEquals(out, "");
  }
});

Deno.test("a hypervisor that cannot attach user-mode NICs gets none it cannot take: a clear error instead", async () => {
  const tapOnly = definePlugin({
    name: "test:tap-only",
    hypervisors: [{
      name: "tap-only",
      accels: ["tcg"],
      nicBackends: ["tap"],
      available: () => Promise.resolve({ ok: true }),
      command: () => ({ command: "true", args: [] }),
      launch: () => Promise.resolve(0),
    }],
  });
  const request = { image: await dryRunImage(), hypervisor: "tap-only", plugins: [tapOnly] };
  const err = await assertRejects(() => runImage({ ...request, accel: "tcg", warn: () => {} }), ValidationError);
  assertEquals(
    err.message,
    `hypervisor "tap-only" cannot attach a NIC to a user network (it can: tap); choose the NICs with -n, --nic or ` +
      "--no-net",
  );
  const none = await runImage({ ...request, accel: "tcg", warn: () => {}, network: { nics: [] } });
  assertEquals(none.exitCode, 0);
});
