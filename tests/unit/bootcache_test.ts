import { assert, assertEquals } from "./_assert.ts";
import { imageKernel } from "../../core/bootcache.ts";
import type { ImageHeader } from "../../core/image.ts";
import type { DiskReader } from "../../core/providers.ts";
import { main } from "../../core/cli.ts";
import { captureIO, removeDryRunFiles, staticHello, stubKernel, withEnv } from "./_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HASH = "ab".repeat(32);

/** An in-memory disk holding `kernel` at offset 4096; counts the bytes read. */
function memoryDisk(kernel: Uint8Array): DiskReader & { bytesRead: number } {
  const bytes = new Uint8Array(4096 + kernel.length);
  bytes.set(kernel, 4096);
  return {
    size: bytes.length,
    bytesRead: 0,
    read(offset, length) {
      const out = bytes.slice(offset, offset + length);
      this.bytesRead += out.length;
      return Promise.resolve(out);
    },
    async *allocated() {
      yield { offset: 0, length: bytes.length };
    },
    close() {},
  };
}

function header(kernelSize: number, kernelHash: string): ImageHeader {
  return {
    version: 1,
    headerSize: 128,
    kernelOffset: 4096,
    kernelSize,
    fsOffset: 0,
    fsSize: 0,
    fsType: "rofs",
    kernelHash,
    cmdline: "/hello",
  };
}

const kernel = new TextEncoder().encode("\x7fELF a kernel\n".repeat(1000));

Deno.test("a kernel is extracted into the boot cache once, then booted from there", async () => {
  const cache = await Deno.makeTempDir();
  const disk = memoryDisk(kernel);
  const first = await imageKernel(disk, header(kernel.length, HASH), `${cache}/private.elf`, cache);
  assertEquals(first, `${cache}/boot/kernel-${HASH}-${kernel.length}.elf`);
  assertEquals(await Deno.readFile(first), kernel);
  assertEquals(disk.bytesRead, kernel.length);
  const second = await imageKernel(disk, header(kernel.length, HASH), `${cache}/private.elf`, cache);
  assertEquals(second, first);
  assertEquals(disk.bytesRead, kernel.length, "the second run reads nothing from the image");
  assertEquals([...Deno.readDirSync(`${cache}/boot`)].length, 1, "no partial file is left");
  await Deno.remove(cache, { recursive: true });
});

Deno.test("a truncated cached kernel is extracted again", async () => {
  const cache = await Deno.makeTempDir();
  const path = `${cache}/boot/kernel-${HASH}-${kernel.length}.elf`;
  await Deno.mkdir(`${cache}/boot`);
  await Deno.writeFile(path, kernel.subarray(0, 100));
  assertEquals(await imageKernel(memoryDisk(kernel), header(kernel.length, HASH), `${cache}/p.elf`, cache), path);
  assertEquals(await Deno.readFile(path), kernel);
  await Deno.remove(cache, { recursive: true });
});

Deno.test("an image without a kernel hash, or a cache that cannot be written, boots from a private copy", async () => {
  const dir = await Deno.makeTempDir();
  for (const hash of ["", "../../etc/passwd", "ABC"]) {
    const path = await imageKernel(memoryDisk(kernel), header(kernel.length, hash), `${dir}/private.elf`, dir);
    assertEquals(path, `${dir}/private.elf`);
    assertEquals(await Deno.readFile(path), kernel);
    await Deno.remove(path);
  }
  assertEquals([...Deno.readDirSync(dir)], [], "nothing went to the cache");
  await Deno.writeTextFile(`${dir}/file`, "a file where the cache should be");
  const path = await imageKernel(memoryDisk(kernel), header(kernel.length, HASH), `${dir}/private.elf`, `${dir}/file`);
  assertEquals(path, `${dir}/private.elf`);
  assertEquals(await Deno.readFile(path), kernel);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("osv run boots the kernel from $OSV_CACHE_DIR/boot", async () => {
  const dir = await Deno.makeTempDir();
  const built = captureIO();
  const stub = await stubKernel();
  const status = await withEnv(
    { OSV_FAKE_KERNEL: stub },
    async () =>
      main(
        ["build", await staticHello(), "-o", `${dir}/d.img`, "--plugin", `${ROOT}tests/plugins/fake_kernel.ts`],
        built,
      ),
  );
  assertEquals(status, 0, built.err);
  for (let run = 0; run < 2; run++) {
    const io = captureIO();
    assertEquals(
      await withEnv({ OSV_CACHE_DIR: `${dir}/cache` }, () => main(["run", `${dir}/d.img`, "--dry-run"], io)),
      0,
      io.err,
    );
    const kernelPath = /-kernel (\S+)/.exec(io.out)?.[1] ?? "";
    assert(kernelPath.startsWith(`${dir}/cache/boot/kernel-`), io.out);
    assertEquals(await Deno.readFile(kernelPath), await Deno.readFile(stub));
    await removeDryRunFiles(io.out);
  }
  await Deno.remove(dir, { recursive: true });
});
