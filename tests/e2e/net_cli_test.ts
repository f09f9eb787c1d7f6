/**
 * `osv run` networking as a user runs it: an HTTP server (tests/guest/http_server.c) built with `osv build`
 * and started with `osv run --forward tcp:PORT:PORT`, reached from the host with fetch and curl on both
 * hypervisors and accelerators; `osv run -n` inside a network namespace the test creates and deletes
 * (osv creates the tap, and the bridge when it is missing, and deletes the tap when the app exits or osv
 * gets SIGTERM); the generated /etc/resolv.conf from slirp's addresses that `osv run` passes instead of
 * DHCP, --ip/--nameserver, --no-net and an image that brings its own; and the errors of bad flags and a
 * missing /dev/vhost-net.
 *
 * Every user-mode network here is restricted (--net-restrict) except where the resolver file is read: the
 * guest sends nothing there.
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { defaultMac } from "../../core/net.ts";
import { accelerators, buildImage, guestProgram, osv, ROOT, run } from "./_harness.ts";
import { freePort, ip, startOsv } from "./_net.ts";

const HYPERVISORS = [
  { hypervisor: "qemu", nic: "pci" },
  { hypervisor: "qemu-microvm", nic: "mmio" },
] as const;

/** Bytes fetched from /bytes/N: kvm_pvm emulates every kernel instruction, so transfers stay small there. */
const TRANSFER = { tcg: 1_000_000, kvm: 64_000 } as const;

let serverImage: Promise<string> | undefined;
/** The HTTP server, built once with `osv build`. */
function server(): Promise<string> {
  serverImage ??= (async () => buildImage(await guestProgram("http_server")))();
  return serverImage;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function pattern(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 0xff;
  return bytes;
}

function fnv1a(data: Uint8Array): string {
  let h = 2166136261;
  for (const byte of data) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** curl's output as bytes (it may be binary); `namespace`: curl runs inside it. */
async function curl(args: string[], namespace?: string): Promise<{ code: number; body: Uint8Array<ArrayBuffer> }> {
  const curlArgs = ["-s", "-S", "-f", "-m", "60", ...args];
  const [command, commandArgs] = namespace ? ["ip", ["netns", "exec", namespace, "curl", ...curlArgs]] : [
    "curl",
    curlArgs,
  ];
  const out = await new Deno.Command(command, { args: commandArgs, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, `curl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return { code: out.code, body: out.stdout };
}

async function get(url: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
}

for (const accel of accelerators()) {
  for (const { hypervisor, nic } of HYPERVISORS) {
    Deno.test(`osv run --forward: the host reaches an HTTP server in osv with fetch and curl (${hypervisor}) [${accel}]`, async () => {
      await ensureHostTools(["curl"]);
      const image = await server();
      const port = freePort();
      const guest = startOsv([
        image,
        "--accel",
        accel,
        "--hypervisor",
        hypervisor,
        "--forward",
        `tcp:${port}:${port}`,
        "--net-restrict",
        "-e",
        `--verbose /http_server ${port}`,
      ]);
      try {
        await guest.waitFor(new RegExp(`http_server: listening on port ${port}`), 120_000);
        const base = `http://127.0.0.1:${port}`;
        const size = TRANSFER[accel];
        const expected = await sha256(pattern(size));
        // curl first: the server serves one connection at a time, and fetch keeps its connection open.
        assert.equal(
          new TextDecoder().decode((await curl([`${base}/hello`])).body),
          "hello from 10.0.2.2 to 10.0.2.15\n",
        );
        const curled = await curl([`${base}/bytes/${size}`]);
        assert.equal(curled.body.length, size);
        assert.equal(await sha256(curled.body), expected, "curl got the bytes intact");

        const hello = await get(`${base}/hello`);
        assert.equal(hello.status, 200);
        assert.equal(await hello.text(), "hello from 10.0.2.2 to 10.0.2.15\n");
        const fetched = new Uint8Array(await (await get(`${base}/bytes/${size}`)).arrayBuffer());
        assert.equal(fetched.length, size);
        assert.equal(await sha256(fetched), expected, "fetch got the bytes intact");

        const body = new Uint8Array(accel === "kvm" ? 16_000 : 200_000);
        crypto.getRandomValues(body.subarray(0, 65536));
        const sum = await get(`${base}/sum`, { method: "POST", body });
        assert.equal(await sum.text(), `${body.length} ${fnv1a(body)}\n`);

        assert.equal(await (await get(`${base}/quit`)).text(), "bye\n");
        const status = await guest.status;
        const out = guest.output();
        assert.equal(status, 0, `osv run exited with ${status}:\n${out}`);
        const mac = defaultMac(Deno.realPathSync(image), 0);
        assert.match(out, new RegExp(`osv: virtio-net eth0: mac ${mac}, .* at ${nic}`), "osv's MAC reached the guest");
        // slirp's address from the command line; restricted, so no gateway (as its DHCP would give), no DHCP.
        assert.match(out, /osv: net: eth0 10\.0\.2\.15\/255\.255\.255\.0 gateway 0\.0\.0\.0 /);
        assert.doesNotMatch(out, /osv: dhcp/);
        assert.match(out, /http_server: done/);
      } finally {
        guest.kill();
        await guest.status;
      }
    });
  }
}

// --- -n: a tap device on a bridge, inside a network namespace ------------------------------------------

const tapProblem = Deno.uid() !== 0 ? "not root" : (() => {
  try {
    Deno.statSync("/dev/net/tun");
    return null;
  } catch {
    return "no /dev/net/tun";
  }
})();
if (tapProblem !== null) console.error(`net_cli_test.ts: skipping the osv run -n tests: ${tapProblem}`);

for (const accel of accelerators()) {
  for (const { hypervisor, nic } of HYPERVISORS) {
    // pc: osv creates the bridge, the app exits; microvm: the bridge exists, -v falls back to plain tap, and
    // osv run is stopped with SIGTERM.
    const createsBridge = hypervisor === "qemu";
    Deno.test({
      name: `osv run ${createsBridge ? "-n" : "-v --vhost-fallback"} puts the guest on ${
        createsBridge ? "a new" : "an existing"
      } bridge through a tap osv makes and deletes, in a network namespace (${hypervisor}) [${accel}]`,
      ignore: tapProblem !== null,
      async fn() {
        await ensureHostTools(["iproute2", "curl"]);
        const image = await server();
        const ns = `osvcli-${crypto.randomUUID().slice(0, 8)}`;
        const bridge = "osvbr0";
        await ip("netns", "add", ns);
        try {
          await ip("-n", ns, "link", "set", "lo", "up");
          if (!createsBridge) {
            await ip("-n", ns, "link", "add", "name", bridge, "type", "bridge");
            await ip("-n", ns, "addr", "add", "192.168.77.1/24", "dev", bridge);
            await ip("-n", ns, "link", "set", bridge, "up");
          }
          const args = [
            image,
            "--accel",
            accel,
            "--hypervisor",
            hypervisor,
            ...(createsBridge ? ["-n"] : ["-v", "--vhost-fallback"]),
            "--bridge",
            bridge,
            "--ip",
            "192.168.77.2/24,192.168.77.1,192.168.77.1",
            "-e",
            "--verbose /http_server 8080",
          ];
          // A vhost-net device that is surely missing, so that the fallback is taken on every host.
          const env = createsBridge ? undefined : { OSV_VHOST_DEVICE: "/nonexistent/vhost-net" };
          const guest = startOsv(args, { namespace: ns, ...(env ? { env } : {}) });
          try {
            await guest.waitFor(/http_server: listening on port 8080/, 120_000);
            const links = await ip("-n", ns, "-o", "link", "show");
            const tap = /\d+: (osv\d+-0)[:@]/.exec(links)?.[1];
            assert.ok(tap, `osv's tap in the namespace:\n${links}`);
            assert.match(await ip("-n", ns, "-o", "link", "show", tap), new RegExp(`master ${bridge} `));
            if (createsBridge) await ip("-n", ns, "addr", "add", "192.168.77.1/24", "dev", bridge);
            const base = "http://192.168.77.2:8080";
            const hello = await curl([`${base}/hello`], ns);
            assert.equal(new TextDecoder().decode(hello.body), "hello from 192.168.77.1 to 192.168.77.2\n");
            const size = TRANSFER[accel];
            const bytes = await curl([`${base}/bytes/${size}`], ns);
            assert.equal(await sha256(bytes.body), await sha256(pattern(size)));
            // The app ends by itself on pc; on microvm osv gets SIGTERM, stops QEMU and still deletes the tap.
            if (createsBridge) {
              assert.equal(new TextDecoder().decode((await curl([`${base}/quit`], ns)).body), "bye\n");
            } else guest.kill();
            const status = await guest.status;
            const out = guest.output();
            assert.equal(status, createsBridge ? 0 : 143, `osv run exited with ${status}:\n${out}`);
            assert.match(out, new RegExp(`virtio-net eth0: .* at ${nic}`));
            assert.match(out, /osv: net: eth0 192\.168\.77\.2\/255\.255\.255\.0 gateway 192\.168\.77\.1/);
            if (createsBridge) assert.match(out, new RegExp(`osv: created bridge ${bridge}; it stays after the VM`));
            else {
              assert.match(
                out,
                /osv: warning: \/nonexistent\/vhost-net does not exist .*; running without vhost-net \(--vhost-fallback\)/,
              );
            }
            const after = await ip("-n", ns, "-o", "link", "show");
            assert.doesNotMatch(after, new RegExp(`: ${tap}[:@]`), "osv deleted its tap");
            assert.match(after, new RegExp(`: ${bridge}: `), "the bridge stays");
          } finally {
            guest.kill();
            await guest.status;
          }
        } finally {
          await ip("netns", "del", ns);
        }
      },
    });
  }
}

// --- the guest's resolver files -------------------------------------------------------------------------

Deno.test("/etc/resolv.conf comes from slirp's DNS or --nameserver unless the image has one; /etc/hosts from the build", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osv-net-cli-" });
  try {
    const cat = `${dir}/cat.img`;
    const built = await osv("build", "/usr/bin/cat", "-o", cat);
    assert.equal(built.code, 0, built.stderr);
    await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 192.0.2.53\n");
    const own = `${dir}/own.img`;
    const builtOwn = await osv("build", "/usr/bin/cat", "--add", `${dir}/resolv.conf:/etc/resolv.conf`, "-o", own);
    assert.equal(builtOwn.code, 0, builtOwn.stderr);
    const show = async (image: string, ...flags: string[]) => {
      const out = await osv(
        "run",
        image,
        "--accel",
        "tcg",
        "--hypervisor",
        "qemu-microvm",
        ...flags,
        "-e",
        "/cat /etc/resolv.conf /etc/hosts",
      );
      assert.equal(out.code, 0, out.stderr);
      return out.stdout;
    };
    const generated = "# generated by the osv kernel from DHCP or --nameserver\n";
    const hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tosv\n";
    assert.equal(await show(cat), `${generated}nameserver 10.0.2.3\n${hosts}`, "slirp's DNS server");
    assert.equal(await show(cat, "--net-restrict"), `${generated}${hosts}`, "a restricted network offers no DNS");
    assert.equal(await show(cat, "--nameserver", "10.0.2.4"), `${generated}nameserver 10.0.2.4\n${hosts}`);
    // Without DHCP: each user-mode NIC has slirp's address for its network, the gateway is eth0's.
    const verbose = await show(cat, "--verbose", "--nic", "user", "--nic", "user,restrict=on");
    assert.match(verbose, /^osv: net: eth0 10\.0\.2\.15\/255\.255\.255\.0 gateway 10\.0\.2\.2 /m);
    assert.match(verbose, /^osv: net: eth1 10\.0\.3\.15\/255\.255\.255\.0 gateway 10\.0\.2\.2 /m);
    assert.doesNotMatch(verbose, /osv: dhcp/);
    assert.equal(
      await show(cat, "--net-restrict", "--ip", "10.0.2.15/24,10.0.2.2,10.0.2.3", "--nameserver", "10.0.2.4"),
      `${generated}nameserver 10.0.2.3\nnameserver 10.0.2.4\n${hosts}`,
    );
    assert.equal(await show(cat, "--no-net"), `${generated}${hosts}`);
    assert.equal(
      await show(own, "--net-restrict", "--nameserver", "10.0.2.4"),
      `nameserver 192.0.2.53\n${hosts}`,
      "the image's own file wins",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- errors ---------------------------------------------------------------------------------------------

Deno.test("osv run --forward tcp:abc:1 is a usage error (status 2); -v without /dev/vhost-net says how to get it", async () => {
  const image = await server();
  const bad = await osv("run", image, "--forward", "tcp:abc:1");
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /^osv: error: option '--forward <rule>' argument 'tcp:abc:1' is invalid\. "abc" is not a port number \(1\.\.65535\); expected \[tcp:\|udp:\]\[HOSTADDR:\]HOSTPORT\[:GUESTPORT\]/,
  );
  assert.match(bad.stderr, /Usage: osv run \[options\] <image>/);

  // This host's own /dev/vhost-net when it has none; else one that surely is missing.
  let device = "/dev/vhost-net";
  try {
    Deno.statSync(device);
    device = "/nonexistent/vhost-net";
  } catch {
    // Missing here: the real path is tested.
  }
  const vhost = await run(Deno.execPath(), ["run", "-A", "--quiet", `${ROOT}main.ts`, "run", image, "-v"], {
    ...Deno.env.toObject(),
    OSV_VHOST_DEVICE: device,
  });
  assert.equal(vhost.code, 1, vhost.stderr);
  assert.equal(
    vhost.stderr,
    `osv: error: Cannot use vhost-net (-v): ${device} does not exist (load the module as root: modprobe vhost_net). ` +
      "Run without -v, or add --vhost-fallback to run without vhost-net where it is missing\n",
  );
});
