import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./_assert.ts";
import {
  crc32,
  decodeSuperblock,
  DIRENT_SIZE,
  INODE_SIZE,
  listRofs,
  ROFS_BLOCK,
  rofsImage,
} from "../../plugins/_rofs.ts";
import type { Manifest } from "../../mod.ts";
import { readAll } from "./_helpers.ts";

const enc = new TextEncoder();

async function sample(): Promise<{ manifest: Manifest; hostFile: string; big: Uint8Array }> {
  const hostFile = await Deno.makeTempFile();
  const big = new Uint8Array(70_001).map((_, i) => (i * 7) % 251);
  await Deno.writeFile(hostFile, big);
  const manifest: Manifest = new Map([
    ["/usr/lib/libx.so", { kind: "file", hostPath: hostFile, mode: 0o644 }],
    ["/etc/motd", { kind: "file", bytes: enc.encode("hi\n"), mode: 0o600 }],
    ["/etc/empty", { kind: "file", bytes: new Uint8Array(), mode: 0o644 }],
    ["/bin", { kind: "dir", mode: 0o700 }],
    ["/bin/app", { kind: "file", bytes: new Uint8Array([1, 2, 3]), mode: 0o755 }],
    ["/lib", { kind: "symlink", target: "usr/lib" }],
    ["/names/Zebra", { kind: "file", bytes: enc.encode("z"), mode: 0o644 }],
    ["/names/ärger", { kind: "file", bytes: enc.encode("a"), mode: 0o644 }],
    ["/names/🦀", { kind: "file", bytes: enc.encode("c"), mode: 0o644 }],
    ["/names/\uffe0", { kind: "file", bytes: enc.encode("w"), mode: 0o644 }],
    ["/names/a b", { kind: "file", bytes: enc.encode("s"), mode: 0o644 }],
  ]);
  return { manifest, hostFile, big };
}

function reader(bytes: Uint8Array) {
  return (offset: number, length: number) => Promise.resolve(bytes.slice(offset, offset + length));
}

Deno.test("CRC-32 matches the IEEE check value", () => {
  assertEquals(crc32(enc.encode("123456789")), 0xcbf43926);
});

Deno.test("rofsImage() streams exactly its size, deterministically, with block-aligned big files", async () => {
  const { manifest, hostFile, big } = await sample();
  const image = await rofsImage(manifest);
  const a = await readAll(image.stream);
  const b = await readAll((await rofsImage(manifest)).stream);
  assertEquals(a.length, image.size);
  assertEquals(a, b);
  assertEquals(image.size % ROFS_BLOCK, 0);
  const sb = decodeSuperblock(a, a.length);
  assertEquals(sb.inodeCount, 16); // root + 15 entries (/etc, /usr, /usr/lib and /names made explicit)
  assertEquals(sb.dataOffset % ROFS_BLOCK, 0);
  // The 70,001-byte file starts on a block boundary and holds the host file's bytes.
  const view = new DataView(a.buffer);
  let found = false;
  for (let i = 0; i < sb.inodeCount; i++) {
    const at = sb.inodeTable + i * INODE_SIZE;
    if (Number(view.getBigUint64(at + 8, true)) !== big.length) continue;
    const where = Number(view.getBigUint64(at + 16, true));
    assertEquals(where % ROFS_BLOCK, 0);
    assertEquals(a.subarray(where, where + big.length), big);
    found = true;
  }
  assertEquals(found, true);
  await Deno.remove(hostFile);
});

Deno.test("listRofs() reads back every entry, names sorted by UTF-8 bytes", async () => {
  const { manifest, hostFile } = await sample();
  const bytes = await readAll((await rofsImage(manifest)).stream);
  const files = await listRofs(reader(bytes), bytes.length);
  assertEquals(files.map((f) => `${f.path} ${f.type} ${f.mode.toString(8)} ${f.size}`), [
    "/bin dir 700 0",
    "/bin/app file 755 3",
    "/etc dir 755 0",
    "/etc/empty file 644 0",
    "/etc/motd file 600 3",
    "/lib symlink 777 7",
    "/names dir 755 0",
    "/names/Zebra file 644 1",
    "/names/a b file 644 1",
    "/names/ärger file 644 1",
    "/names/\uffe0 file 644 1", // U+FFE0 (3 UTF-8 bytes, EF ...) sorts before
    "/names/🦀 file 644 1", // U+1F980 (F0 ...), unlike UTF-16 order
    "/usr dir 755 0",
    "/usr/lib dir 755 0",
    "/usr/lib/libx.so file 644 70001",
  ]);
  await Deno.remove(hostFile);
});

Deno.test("an empty manifest gives a filesystem with only the root", async () => {
  const bytes = await readAll((await rofsImage(new Map())).stream);
  assertEquals(await listRofs(reader(bytes), bytes.length), []);
  assertEquals(decodeSuperblock(bytes, bytes.length).inodeCount, 1);
});

Deno.test("a name longer than 255 bytes and a vanished host file are clear errors", async () => {
  const long: Manifest = new Map([["/" + "x".repeat(256), { kind: "file", bytes: new Uint8Array(), mode: 0o644 }]]);
  assertStringIncludes((await assertRejects(() => rofsImage(long))).message, "longer than 255 bytes");
  const gone: Manifest = new Map([["/f", { kind: "file", hostPath: "/nonexistent/osv-test", mode: 0o644 }]]);
  assertStringIncludes((await assertRejects(() => rofsImage(gone))).message, 'Cannot add "/f" to the filesystem');
});

Deno.test("corrupt superblocks and tables are reported, not followed", async () => {
  const { manifest, hostFile } = await sample();
  const good = await readAll((await rofsImage(manifest)).stream);
  await Deno.remove(hostFile);
  const damaged = (change: (b: Uint8Array, v: DataView) => void) => {
    const b = good.slice();
    change(b, new DataView(b.buffer));
    return b;
  };
  assertStringIncludes(
    assertThrows(() => decodeSuperblock(damaged((b) => b.set(enc.encode("XSVROFS"))), good.length)).message,
    "bad ROFS magic",
  );
  assertStringIncludes(
    assertThrows(() => decodeSuperblock(damaged((b) => b[20]!++), good.length)).message,
    "checksum mismatch",
  );
  assertStringIncludes(assertThrows(() => decodeSuperblock(good, good.length - 4096)).message, "truncated");
  const sb = decodeSuperblock(good, good.length);
  // The root's first entry (/bin) renamed to the same bytes as its successor: not sorted.
  const unsorted = damaged((_, v) => {
    const second = sb.direntTable + DIRENT_SIZE;
    v.setUint32(sb.direntTable + 4, v.getUint32(second + 4, true), true);
    v.setUint32(sb.direntTable + 8, v.getUint32(second + 8, true), true);
  });
  assertStringIncludes(
    (await assertRejects(() => listRofs(reader(unsorted), unsorted.length))).message,
    "is not sorted",
  );
  // An entry naming the root directory again: a loop.
  const loop = damaged((_, v) => v.setUint32(sb.direntTable, 0, true));
  assertStringIncludes((await assertRejects(() => listRofs(reader(loop), loop.length))).message, "directory loop");
});

Deno.test("rofsImage() stores a file's mtime and 0 for everything without one", async () => {
  const manifest: Manifest = new Map([
    ["/a.py", { kind: "file", bytes: enc.encode("x"), mode: 0o644, mtime: 1_700_000_123 }],
    ["/b", { kind: "file", bytes: enc.encode("yy"), mode: 0o644 }],
  ]);
  const bytes = await readAll((await rofsImage(manifest)).stream);
  const sb = decodeSuperblock(bytes, bytes.length);
  const view = new DataView(bytes.buffer);
  const times = new Map<number, number>();
  for (let i = 1; i < sb.inodeCount; i++) {
    const at = sb.inodeTable + i * INODE_SIZE;
    times.set(Number(view.getBigUint64(at + 8, true)), Number(view.getBigUint64(at + 24, true)));
  }
  assertEquals(times, new Map([[1, 1_700_000_123], [2, 0]]));
  const bad = await assertRejects(
    () => rofsImage(new Map([["/c", { kind: "file", bytes: enc.encode("z"), mode: 0o644, mtime: -1 }]])),
    RangeError,
  );
  assertStringIncludes(bad.message, `Cannot add "/c" to the filesystem: mtime -1`);
});
