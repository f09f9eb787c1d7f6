import { assertEquals, assertThrows } from "./_assert.ts";
import {
  assembleImage,
  CMDLINE_OFFSET,
  decodeImageHeader,
  HEADER_OFFSET,
  planImage,
  readImageHeader,
} from "../../core/image.ts";
import { openRawDisk } from "../../formats/raw.ts";
import { readAll } from "./_helpers.ts";

const kernel = new TextEncoder().encode("KERNEL".repeat(1000));
const fs = new TextEncoder().encode("FS".repeat(777));

async function sampleImage(): Promise<Uint8Array> {
  const plan = planImage({
    kernelSize: kernel.length,
    fsSize: fs.length,
    fsType: "ramfs",
    kernelHash: "ab".repeat(32),
    cmdline: "--bootchart /hello world",
  });
  return await readAll(assembleImage(plan, { kernel: ReadableStream.from([kernel]), fs: ReadableStream.from([fs]) }));
}

Deno.test("an assembled image reads back with the same header, kernel and filesystem", async () => {
  const image = await sampleImage();
  const header = decodeImageHeader(image, image.length, "app.img");
  assertEquals(header.fsType, "ramfs");
  assertEquals(header.kernelHash, "ab".repeat(32));
  assertEquals(header.cmdline, "--bootchart /hello world");
  assertEquals(header.kernelOffset % 4096, 0);
  assertEquals(header.fsOffset % 4096, 0);
  assertEquals(image.length % 512, 0);
  assertEquals(image.subarray(0, 512), new Uint8Array(512));
  assertEquals(image.subarray(header.kernelOffset, header.kernelOffset + header.kernelSize), kernel);
  assertEquals(image.subarray(header.fsOffset, header.fsOffset + header.fsSize), fs);
});

Deno.test("readImageHeader() works through the raw format's disk reader", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  await Deno.writeFile(path, await sampleImage());
  const disk = await openRawDisk(path);
  try {
    assertEquals((await readImageHeader(disk, "x.img")).cmdline, "--bootchart /hello world");
  } finally {
    disk.close();
    await Deno.remove(path);
  }
});

Deno.test("a file without the magic is rejected as having no osv header", async () => {
  const image = await sampleImage();
  image[HEADER_OFFSET] = 0x58;
  const err = assertThrows(() => decodeImageHeader(image, image.length, "app.img"));
  assertEquals(err.message, `Cannot boot image "app.img": no osv header (bad magic)`);
});

Deno.test("a truncated file is rejected", async () => {
  const image = (await sampleImage()).subarray(0, 600);
  const err = assertThrows(() => decodeImageHeader(image, image.length, "app.img"));
  assertEquals(err.message, `Cannot boot image "app.img": truncated osv header`);
  const tiny = new Uint8Array(100);
  assertEquals(
    assertThrows(() => decodeImageHeader(tiny, tiny.length, "t.img")).message,
    `Cannot boot image "t.img": no osv header (the file has only 100 bytes)`,
  );
});

Deno.test("a filesystem extending past the end of the file is rejected", async () => {
  const image = await sampleImage();
  const cut = image.subarray(0, image.length - 4096);
  const err = assertThrows(() => decodeImageHeader(cut, cut.length, "app.img"));
  assertEquals(err.message.startsWith(`Cannot boot image "app.img": filesystem (offset`), true);
  assertEquals(err.message.includes("extends past the end of the file"), true);
});

Deno.test("a kernel offset past the end, a bad version and an unterminated command line are rejected", async () => {
  const mutate = async (edit: (view: DataView, bytes: Uint8Array) => void) => {
    const image = await sampleImage();
    edit(new DataView(image.buffer), image);
    return assertThrows(() => decodeImageHeader(image, image.length, "a.img")).message;
  };
  const h = HEADER_OFFSET;
  assertEquals(
    (await mutate((v) => v.setBigUint64(h + 16, 1n << 40n, true))).includes("kernel (offset 1099511627776"),
    true,
  );
  assertEquals(
    await mutate((v) => v.setUint32(h + 8, 9, true)),
    `Cannot boot image "a.img": unsupported image version 9 (this osv reads version 1)`,
  );
  assertEquals(
    await mutate((_v, b) => b.fill(0x41, CMDLINE_OFFSET, CMDLINE_OFFSET + 4096)),
    `Cannot boot image "a.img": the command line is not NUL-terminated`,
  );
  assertEquals(
    await mutate((v) => v.setBigUint64(h + 24, 0n, true)),
    `Cannot boot image "a.img": no kernel in the image header`,
  );
});

Deno.test("planImage() refuses a command line longer than its area", () => {
  assertThrows(
    () => planImage({ kernelSize: 1, fsSize: 1, fsType: "ramfs", kernelHash: "", cmdline: "x".repeat(5000) }),
    RangeError,
  );
});
