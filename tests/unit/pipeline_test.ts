import { assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { build, type KernelBuilder, runImage } from "../../mod.ts";
import { extractRange, readImageHeader } from "../../core/image.ts";
import { openRawDisk } from "../../formats/raw.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { captureConsole, sh, staticHello, stubKernel } from "./_helpers.ts";

function kernelFrom(path: () => Promise<string>): KernelBuilder {
  return async ({ features }) => {
    const file = await path();
    const size = (await Deno.stat(file)).size;
    return { path: file, size, hash: `stub-${features.join(",")}`, version: "stub", cached: true };
  };
}

async function listCpio(image: string): Promise<string[]> {
  await ensureHostTools(["cpio"]);
  const disk = await openRawDisk(image);
  try {
    const header = await readImageHeader(disk, image);
    const cpio = `${image}.cpio`;
    await extractRange(disk, { offset: header.fsOffset, size: header.fsSize }, cpio);
    const { stdout } = await sh("cpio", ["-t", "--quiet", "-F", cpio]);
    return stdout.trim().split("\n");
  } finally {
    disk.close();
  }
}

Deno.test("build() puts the app at /<name>, asks the kernel for fs/ramfs and writes a readable image", async () => {
  const dir = await Deno.makeTempDir();
  const app = await staticHello();
  const result = await build({ app, fs: "ramfs", output: `${dir}/hello.img`, buildKernel: kernelFrom(stubKernel) });
  assertEquals(result.cmdline, "/hello");
  assertEquals(result.fs, "ramfs");
  assertEquals(result.format, "raw");
  assertEquals(result.kernel.hash, "stub-fs/ramfs");
  assertEquals(result.size, (await Deno.stat(`${dir}/hello.img`)).size);
  assertEquals((await listCpio(`${dir}/hello.img`)).filter((p) => !p.startsWith("etc")), ["hello"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("build() with -e replaces the default command line", async () => {
  const dir = await Deno.makeTempDir();
  const result = await build({
    app: await staticHello(),
    output: `${dir}/x.img`,
    cmdline: "--verbose /hello one two",
    buildKernel: kernelFrom(stubKernel),
  });
  assertEquals(result.cmdline, "--verbose /hello one two");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("build() explains a directory, a missing path and a dynamic executable", async () => {
  const dir = await Deno.makeTempDir();
  const kernel = kernelFrom(stubKernel);
  const msg = async (app: string) => (await assertRejects(() => build({ app, buildKernel: kernel }))).message;
  assertEquals(await msg(dir), `Cannot build "${dir}": it is a directory (give the path of an executable)`);
  assertEquals(await msg(`${dir}/nope`), `Cannot build "${dir}/nope": no such file`);
  await Deno.writeTextFile(`${dir}/script`, "#!/bin/sh\necho hi\n");
  assertEquals(await msg(`${dir}/script`), `Cannot build "${dir}/script": not an ELF file`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unknown filesystem or format names the known ones", async () => {
  const app = await staticHello();
  const err = await assertRejects(() => build({ app, fs: "ext9", buildKernel: kernelFrom(stubKernel) }));
  assertEquals(err.message, `Unknown filesystem "ext9" (known: ramfs, rofs)`);
});

Deno.test("runImage() boots the stub kernel on QEMU (tcg) and returns the reported exit status", async () => {
  await ensureHostTools(["qemu-system-x86"]);
  const dir = await Deno.makeTempDir();
  const image = `${dir}/hello.img`;
  // ramfs and no NIC: the stub kernel echoes its command line, which a disk or a NIC on microvm would lengthen.
  await build({ app: await staticHello(), fs: "ramfs", output: image, buildKernel: kernelFrom(stubKernel) });
  for (const hypervisor of ["qemu", "qemu-microvm"]) {
    const io = captureConsole();
    const network = { nics: [] };
    const result = await runImage({ image, hypervisor, accel: "tcg", bootchart: true, io, warn: () => {}, network });
    assertEquals(result.exitCode, 42, `${hypervisor}: ${io.text().err}`);
    assertEquals(io.text().out, "--bootchart /hello\n");
  }
  const io = captureConsole();
  const overridden = await runImage({ image, cmdline: "/hello -x", accel: "tcg", io, warn: () => {} });
  assertEquals(overridden.exitCode, 42);
  // The default user-mode NIC's addresses come before the program (the kernel then skips DHCP).
  assertEquals(
    io.text().out,
    "--ip=eth0,10.0.2.15,255.255.255.0 --defaultgw=10.0.2.2 --nameserver=10.0.2.3 /hello -x\n",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runImage() on a file that is not an image says so", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  await Deno.writeFile(path, new Uint8Array(8192));
  const err = await assertRejects(() => runImage({ image: path, accel: "tcg", warn: () => {} }));
  assertStringIncludes(err.message, "no osv header (bad magic)");
  await Deno.remove(path);
});
