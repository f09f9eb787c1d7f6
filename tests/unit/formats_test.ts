import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { openImage, readerSource, writeImageFile } from "../../core/disk.ts";
import type { DiskExtent, DiskSource, ImageFormatProvider, ProviderContext } from "../../core/providers.ts";
import { builtinPlugins } from "../../core/builtins.ts";
import { PluginRegistry } from "../../core/registry.ts";
import { openRawDisk } from "../../formats/raw.ts";
import { sh } from "./_helpers.ts";

const MiB = 1 << 20;
const GiB = 1 << 30;
const registry = new PluginRegistry(builtinPlugins());
const ctx: ProviderContext = { plugin: "test", warn: () => {} };
const FORMATS = ["qcow2", "vmdk", "vmdk-stream", "vdi"] as const;
const QEMU_FORMAT: Record<string, string> = {
  raw: "raw",
  qcow2: "qcow2",
  vmdk: "vmdk",
  "vmdk-stream": "vmdk",
  vdi: "vdi",
};
const EXTENSION: Record<string, string> = {
  raw: "img",
  qcow2: "qcow2",
  vmdk: "vmdk",
  "vmdk-stream": "vmdk",
  vdi: "vdi",
};

function format(name: string): ImageFormatProvider {
  return registry.get("format", name).provider;
}

let dirPromise: Promise<string> | undefined;
function dir(): Promise<string> {
  dirPromise ??= (async () => {
    await ensureHostTools(["qemu-utils"]);
    return await Deno.makeTempDir({ prefix: "osv-formats-" });
  })();
  return dirPromise;
}

/** Deterministic non-zero bytes. */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = (x & 0xff) | 1;
  }
  return bytes;
}

function source(size: number, extents: DiskExtent[]): DiskSource {
  return {
    size,
    async *extents() {
      yield* extents;
    },
  };
}

const DISKS: Record<string, () => DiskSource> = {
  tiny: () =>
    source(64 * 1024 + 512, [{ offset: 512, data: pattern(3000, 1) }, { offset: 60000, data: pattern(5000, 2) }]),
  "300 MiB with holes": () =>
    source(300 * MiB, [
      { offset: 0, data: pattern(1 * MiB + 777, 3) },
      { offset: 2 * MiB, data: new Uint8Array(4 * MiB) }, // zeros given as data: must stay a hole
      { offset: 150 * MiB + 4096, data: pattern(200_000, 4) },
      { offset: 300 * MiB - 70_000, data: pattern(70_000, 5) },
    ]),
  "10 GiB mostly empty": () =>
    source(10 * GiB, [
      { offset: 0, data: pattern(100_000, 6) },
      { offset: 5 * GiB + 12345, data: pattern(5000, 7) },
      { offset: 10 * GiB - 512, data: pattern(512, 8) },
    ]),
};

const written = new Map<string, Promise<string>>();

/** Writes disk `disk` in format `name` once per test run, returns its path. */
function image(disk: string, name: string): Promise<string> {
  const key = `${disk}/${name}`;
  let found = written.get(key);
  if (!found) {
    found = (async () => {
      const path = `${await dir()}/${disk.replaceAll(" ", "-")}.${name}.${EXTENSION[name]}`;
      await writeImageFile(format(name), { disk: DISKS[disk]!(), path, ctx });
      return path;
    })();
    written.set(key, found);
  }
  return found;
}

async function qemuImg(...args: string[]): Promise<string> {
  return (await sh("qemu-img", args)).stdout;
}

for (const disk of Object.keys(DISKS)) {
  for (const name of FORMATS) {
    Deno.test(`${name} of a ${disk} disk passes qemu-img check and compares identical to raw`, async () => {
      const raw = await image(disk, "raw");
      const start = performance.now();
      const path = await image(disk, name);
      const seconds = (performance.now() - start) / 1000;
      assertStringIncludes(await qemuImg("check", "-f", QEMU_FORMAT[name]!, path), "No errors were found");
      assertStringIncludes(await qemuImg("compare", "-f", "raw", "-F", QEMU_FORMAT[name]!, raw, path), "identical");
      if (disk === "10 GiB mostly empty") {
        const size = (await Deno.stat(path)).size;
        assert(size < 4 * MiB, `${name} of a 10 GiB disk with 100 KB of data is ${size} bytes`);
        assert(seconds < 5, `writing took ${seconds} s`);
      }
    });
  }
}

Deno.test("all-zero clusters given as data are not allocated", async () => {
  const path = await image("300 MiB with holes", "qcow2");
  const map = JSON.parse(await qemuImg("map", "--output=json", "-f", "qcow2", path)) as {
    start: number;
    length: number;
    data: boolean;
  }[];
  const data = map.filter((m) => m.data).reduce((n, m) => n + m.length, 0);
  assert(data < 2 * MiB, `${data} bytes allocated`);
  const raw = await image("300 MiB with holes", "raw");
  assert((await Deno.stat(raw)).blocks! * 512 < 4 * MiB, "the raw file is sparse");
});

Deno.test("raw -> qcow2 -> vmdk -> vdi -> vmdk-stream -> raw is byte-identical and stays sparse", async () => {
  const d = await dir();
  let from = await image("300 MiB with holes", "raw");
  for (const name of ["qcow2", "vmdk", "vdi", "vmdk-stream", "raw"]) {
    const to = `${d}/round.${name}.${EXTENSION[name]}`;
    const { disk: reader } = await openImage(registry, from, "convert");
    try {
      await writeImageFile(format(name), { disk: readerSource(reader), path: to, ctx });
    } finally {
      reader.close();
    }
    assert((await Deno.stat(to)).size < 300 * MiB || name === "raw");
    from = to;
  }
  await sh("cmp", [await image("300 MiB with holes", "raw"), from]);
  assert((await Deno.stat(from)).blocks! * 512 < 4 * MiB, "the final raw file is sparse");
});

Deno.test("qemu-img convert of our images back to raw equals the original", async () => {
  const d = await dir();
  const original = await image("300 MiB with holes", "raw");
  for (const name of FORMATS) {
    const back = `${d}/qemu-back.${name}.raw`;
    await qemuImg("convert", "-f", QEMU_FORMAT[name]!, "-O", "raw", await image("300 MiB with holes", name), back);
    await sh("cmp", [original, back]);
  }
});

Deno.test("our readers read images made by qemu-img convert (qcow2, vdi, vmdk sparse and stream)", async () => {
  const d = await dir();
  const original = await image("300 MiB with holes", "raw");
  const cases: [string, string[]][] = [
    ["qcow2", ["-O", "qcow2"]],
    ["vdi", ["-O", "vdi"]],
    ["vmdk", ["-O", "vmdk"]],
    ["vmdk-stream", ["-O", "vmdk", "-o", "subformat=streamOptimized"]],
  ];
  for (const [name, args] of cases) {
    const theirs = `${d}/qemu.${name}.${EXTENSION[name]}`;
    await qemuImg("convert", "-f", "raw", ...args, original, theirs);
    const reader = await format(name).open(theirs, ctx);
    const back = `${d}/ours-from-qemu.${name}.raw`;
    try {
      assertEquals(reader.size, 300 * MiB);
      await writeImageFile(format("raw"), { disk: readerSource(reader), path: back, ctx });
    } finally {
      reader.close();
    }
    await sh("cmp", [original, back]);
  }
});

Deno.test("our readers read empty images made by qemu-img create as zeros", async () => {
  const d = await dir();
  for (const name of ["qcow2", "vdi", "vmdk"]) {
    const path = `${d}/created.${name}`;
    await qemuImg("create", "-q", "-f", name, path, "5M");
    const reader = await format(name).open(path, ctx);
    try {
      assertEquals(reader.size, 5 * MiB);
      assertEquals(await reader.read(5 * MiB - 100, 200), new Uint8Array(100));
      const ranges = [];
      for await (const range of reader.allocated()) ranges.push(range);
      assertEquals(ranges, []);
    } finally {
      reader.close();
    }
  }
});

async function corrupted(name: string, edit: (bytes: Uint8Array) => Uint8Array): Promise<string> {
  const bytes = await Deno.readFile(await image("tiny", name));
  const path = `${await dir()}/corrupt-${crypto.randomUUID()}.${EXTENSION[name]}`;
  await Deno.writeFile(path, edit(bytes.slice()));
  return path;
}

async function readError(name: string, path: string): Promise<string> {
  const err = await assertRejects(async () => {
    const reader = await format(name).open(path, ctx);
    try {
      for await (const range of reader.allocated()) await reader.read(range.offset, range.length);
    } finally {
      reader.close();
    }
  });
  assertStringIncludes(err.message, `"${path}"`);
  return err.message;
}

for (const name of FORMATS) {
  Deno.test(`the ${name} reader rejects a bad magic, a truncated file and offsets past the end`, async () => {
    const badMagic = await corrupted(name, (b) => {
      const at = name === "vdi" ? 64 : 0;
      b[at] = b[at]! ^ 0xff;
      return b;
    });
    assertStringIncludes(await readError(name, badMagic), "bad magic");
    for (const keep of [10, 600, 70_000]) {
      const truncated = await corrupted(name, (b) => b.subarray(0, Math.min(keep, b.length - 1024)));
      const message = await readError(name, truncated);
      assert(/truncated|past the end|bad footer/.test(message), message);
    }
    const pastEnd = await corrupted(name, (b) => {
      const v = new DataView(b.buffer);
      if (name === "qcow2") v.setBigUint64(40, 1n << 40n); // L1 table offset
      else if (name === "vdi") v.setUint32(344, 0x7fff0000, true); // data offset
      else if (name === "vmdk") v.setBigUint64(56, 1n << 30n, true); // grain directory
      else v.setBigUint64(b.length - 1024 + 56, 1n << 30n, true); // footer's grain directory
      return b;
    });
    assertStringIncludes(await readError(name, pastEnd), "past the end of the file");
  });
}

Deno.test("the qcow2 reader rejects an unsupported version and a data cluster past the end", async () => {
  const v9 = await corrupted("qcow2", (b) => {
    new DataView(b.buffer).setUint32(4, 9);
    return b;
  });
  assertStringIncludes(await readError("qcow2", v9), "unsupported version 9");
  const cut = await corrupted("qcow2", (b) => {
    // Point the first L2 entry past the end of the file.
    const v = new DataView(b.buffer);
    const l2 = Number(v.getBigUint64(0x10000) & 0x00fffffffffffe00n);
    v.setBigUint64(l2, (1n << 63n) | (1n << 40n));
    return b;
  });
  assertStringIncludes(await readError("qcow2", cut), "past the end of the file");
});

Deno.test("a raw reader reports the whole file as allocated", async () => {
  const reader = await openRawDisk(await image("tiny", "raw"));
  const ranges = [];
  for await (const range of reader.allocated()) ranges.push(range);
  reader.close();
  assertEquals(ranges, [{ offset: 0, length: 64 * 1024 + 512 }]);
});
