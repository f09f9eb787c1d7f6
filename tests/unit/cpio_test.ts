import { assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { cpioArchive } from "../../plugins/_cpio.ts";
import type { Manifest } from "../../mod.ts";
import { readAll, sh } from "./_helpers.ts";

async function sampleManifest(): Promise<{ manifest: Manifest; hostFile: string }> {
  const hostFile = await Deno.makeTempFile();
  await Deno.writeFile(hostFile, new Uint8Array(70_001).map((_, i) => i % 251));
  const manifest: Manifest = new Map([
    ["/usr/lib/libx.so", { kind: "file", hostPath: hostFile, mode: 0o644 }],
    ["/etc/motd", { kind: "file", bytes: new TextEncoder().encode("hi\n"), mode: 0o600 }],
    ["/etc/dated", { kind: "file", bytes: new TextEncoder().encode("d\n"), mode: 0o644, mtime: 1_700_000_000 }],
    ["/bin", { kind: "dir", mode: 0o700 }],
    ["/bin/app", { kind: "file", bytes: new Uint8Array([1, 2, 3]), mode: 0o755 }],
    ["/lib", { kind: "symlink", target: "usr/lib" }],
  ]);
  return { manifest, hostFile };
}

Deno.test("cpioArchive() size matches the streamed bytes and output is deterministic", async () => {
  const { manifest, hostFile } = await sampleManifest();
  const a = await cpioArchive(manifest);
  const bytesA = await readAll(a.stream);
  const bytesB = await readAll((await cpioArchive(manifest)).stream);
  assertEquals(bytesA.length, a.size);
  assertEquals(bytesA, bytesB);
  assertEquals(new TextDecoder().decode(bytesA.subarray(0, 6)), "070701");
  await Deno.remove(hostFile);
});

Deno.test("cpio -t lists directories before their contents and ends at the trailer", async () => {
  await ensureHostTools(["cpio"]);
  const { manifest, hostFile } = await sampleManifest();
  const bytes = await readAll((await cpioArchive(manifest)).stream);
  const { stdout } = await sh("cpio", ["-t", "--quiet"], { stdin: bytes });
  assertEquals(stdout.trim().split("\n"), [
    "bin",
    "bin/app",
    "etc",
    "etc/dated",
    "etc/motd",
    "lib",
    "usr",
    "usr/lib",
    "usr/lib/libx.so",
  ]);
  await Deno.remove(hostFile);
});

Deno.test("cpio -i extracts the same contents, modes and symlinks", async () => {
  await ensureHostTools(["cpio"]);
  const { manifest, hostFile } = await sampleManifest();
  const bytes = await readAll((await cpioArchive(manifest)).stream);
  const dir = await Deno.makeTempDir();
  await sh("cpio", ["-i", "--quiet", "--no-absolute-filenames", "-d", "--preserve-modification-time"], {
    cwd: dir,
    stdin: bytes,
  });
  assertEquals(await Deno.readFile(`${dir}/usr/lib/libx.so`), await Deno.readFile(hostFile));
  assertEquals(await Deno.readTextFile(`${dir}/etc/motd`), "hi\n");
  assertEquals((await Deno.stat(`${dir}/bin/app`)).mode! & 0o777, 0o755);
  assertEquals((await Deno.stat(`${dir}/etc/motd`)).mode! & 0o777, 0o600);
  assertEquals((await Deno.stat(`${dir}/bin`)).mode! & 0o777, 0o700);
  assertEquals(await Deno.readLink(`${dir}/lib`), "usr/lib");
  assertEquals((await Deno.stat(`${dir}/etc/motd`)).mtime?.getTime(), 0);
  assertEquals((await Deno.stat(`${dir}/etc/dated`)).mtime?.getTime(), 1_700_000_000_000);
  const { stdout } = await sh("cpio", ["-t", "-v", "--quiet"], { stdin: bytes });
  assertStringIncludes(stdout, "lib -> usr/lib");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(hostFile);
});

Deno.test("cpioArchive() names the guest path when a host file is missing", async () => {
  const manifest: Manifest = new Map([["/app", { kind: "file", hostPath: "/nonexistent/app", mode: 0o755 }]]);
  try {
    await cpioArchive(manifest);
    throw new Error("expected failure");
  } catch (err) {
    assertEquals((err as Error).message, `Cannot add "/app" to the filesystem: cannot read "/nonexistent/app"`);
  }
});

Deno.test("cpioArchive() refuses an mtime the format cannot hold", async () => {
  const manifest: Manifest = new Map([["/f", { kind: "file", bytes: new Uint8Array(), mode: 0o644, mtime: 2 ** 32 }]]);
  const err = await assertRejects(() => cpioArchive(manifest), RangeError);
  assertStringIncludes(err.message, `Cannot add "/f" to the filesystem: mtime 4294967296`);
});
