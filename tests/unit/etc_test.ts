import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { collectManifest } from "../../core/pipeline.ts";
import { etc, etcFiles } from "../../plugins/etc.ts";
import { addEntry, definePlugin, type Manifest } from "../../mod.ts";
import { PluginDriver } from "../../core/driver.ts";
import { PluginRegistry } from "../../core/registry.ts";
import { staticHello } from "./_helpers.ts";

const decoder = new TextDecoder();

function text(manifest: Manifest, path: string): string | undefined {
  const entry = manifest.get(path);
  return entry?.kind === "file" && entry.bytes !== undefined ? decoder.decode(entry.bytes) : undefined;
}

/** Runs only the etc plugin's hooks over `manifest`. */
async function runEtc(manifest: Manifest, options: Parameters<typeof etc>[0] = {}, warnings: string[] = []) {
  const registry = new PluginRegistry([etc(options)], { warn: (line) => void warnings.push(line) });
  const driver = new PluginDriver(registry);
  return await driver.hookSeq("manifest", manifest);
}

Deno.test("every image gets hostname, hosts, passwd, group and nsswitch.conf, and no resolv.conf without a network", async () => {
  const { manifest } = await collectManifest({ app: await staticHello() });
  assertEquals(text(manifest, "/etc/hostname"), "osv\n");
  assertEquals(
    text(manifest, "/etc/hosts"),
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tosv\n",
  );
  assertEquals(text(manifest, "/etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
  assertEquals(text(manifest, "/etc/group"), "root:x:0:\n");
  assertEquals(
    text(manifest, "/etc/nsswitch.conf"),
    "passwd:\tfiles\ngroup:\tfiles\nshadow:\tfiles\nhosts:\tfiles dns\nservices:\tfiles\nprotocols:\tfiles\n",
  );
  assertEquals(manifest.has("/etc/resolv.conf"), false);
  for (const name of ["hostname", "hosts", "passwd", "group", "nsswitch.conf"]) {
    const entry = manifest.get(`/etc/${name}`);
    assertEquals(entry?.kind === "file" ? entry.mode : null, 0o644);
  }
});

Deno.test("the generated files are the same bytes on every build", async () => {
  const app = await staticHello();
  const a = await collectManifest({ app });
  const b = await collectManifest({ app });
  assertEquals(
    [...a.manifest].filter(([p]) => p.startsWith("/etc")),
    [...b.manifest].filter(([p]) => p.startsWith("/etc")),
  );
});

Deno.test("resolv.conf is written when the build request configures a network", async () => {
  const network = { nameservers: ["10.0.2.3", "2001:db8::53"], search: ["example.com"] };
  const { manifest } = await collectManifest({ app: await staticHello(), network });
  assertEquals(
    text(manifest, "/etc/resolv.conf"),
    "nameserver 10.0.2.3\nnameserver 2001:db8::53\nsearch example.com\n",
  );
  assertEquals(etcFiles("box", { nameservers: ["1.1.1.1"] }).get("/etc/resolv.conf"), "nameserver 1.1.1.1\n");
  assertEquals(etcFiles("box", undefined).get("/etc/hostname"), "box\n");
});

Deno.test("/etc/localtime is the host's zoneinfo file behind its link, when there is one", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  await Deno.writeTextFile(`${dir}/Zone`, "TZif2");
  await Deno.symlink(`${dir}/Zone`, `${dir}/localtime`);
  const linked = await runEtc(new Map(), { localtime: `${dir}/localtime` });
  assertEquals(linked.get("/etc/localtime"), { kind: "file", hostPath: `${dir}/Zone`, mode: 0o644 });
  assertEquals((await runEtc(new Map(), { localtime: `${dir}/none` })).has("/etc/localtime"), false);
  assertEquals((await runEtc(new Map(), { localtime: null })).has("/etc/localtime"), false);
  const { manifest } = await collectManifest({ app: await staticHello() });
  const host = await Deno.realPath("/etc/localtime").catch(() => null);
  assertEquals(
    manifest.get("/etc/localtime"),
    host === null ? undefined : { kind: "file", hostPath: host, mode: 0o644 },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("/etc/services and /etc/protocols are copied from the host when it has them", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  await Deno.writeTextFile(`${dir}/services`, "http\t80/tcp\n");
  const copied = await runEtc(new Map(), { hostFiles: [`${dir}/services`, `${dir}/missing`] });
  assertEquals(copied.get(`${dir}/services`), { kind: "file", hostPath: `${dir}/services`, mode: 0o644 });
  assertEquals(copied.has(`${dir}/missing`), false);
  const { manifest } = await collectManifest({ app: await staticHello() });
  for (const path of ["/etc/services", "/etc/protocols"]) {
    const host = await Deno.realPath(path).catch(() => null);
    assertEquals(manifest.get(path), host === null ? undefined : { kind: "file", hostPath: host, mode: 0o644 });
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the app's own /etc files win: --add and other plugins' entries are kept", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/hosts`, "10.1.1.1 db\n");
  const mine = definePlugin({
    name: "test:passwd",
    hooks: {
      manifest(manifest) {
        addEntry(manifest, "/etc/passwd", {
          kind: "file",
          bytes: new TextEncoder().encode("app:x:1:1::/:/x\n"),
          mode: 0o600,
        });
      },
    },
  });
  const { manifest } = await collectManifest({
    app: await staticHello(),
    add: [{ host: `${dir}/hosts`, guest: "/etc/hosts" }],
    plugins: [mine],
  });
  assertEquals(manifest.get("/etc/hosts"), { kind: "file", hostPath: `${dir}/hosts`, mode: 0o644 });
  assertEquals(text(manifest, "/etc/passwd"), "app:x:1:1::/:/x\n");
  assertEquals(text(manifest, "/etc/hostname"), "osv\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an app whose /etc is not a directory gets no generated files and a warning", async () => {
  const warnings: string[] = [];
  const manifest: Manifest = new Map([["/etc", { kind: "symlink", target: "/usr/etc" }]]);
  const after = await runEtc(manifest, {}, warnings);
  assertEquals([...after.keys()], ["/etc"]);
  assertStringIncludes(warnings.join("\n"), "[osv:etc] not generating /etc: the app's /etc is a symlink");
});
