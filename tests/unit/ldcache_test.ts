import { assert, assertEquals, assertThrows } from "./_assert.ts";
import {
  compareLibraryNames,
  FLAGS_X86_64_LIBC6,
  type LdCacheEntry,
  lookupLdCache,
  parseLdCache,
  readLdCache,
  writeLdCache,
} from "../../core/ldcache.ts";
import { readLdSoConf } from "../../core/ldconf.ts";
import { DEFAULT_LIBRARY_DIRS } from "../../core/ldsearch.ts";
import { readElf, readElfIdentity } from "../../core/elf.ts";
import { dirname } from "../../core/paths.ts";
import { hasTool } from "./_libs.ts";

const HOST_CACHE = "/etc/ld.so.cache";
const hostCache = await readLdCache(HOST_CACHE);
const ldconfig = await hasTool("ldconfig");

/** `ldconfig -p [-C cache]` as `[name, flags description, path]`, in its order. */
async function ldconfigPrint(cache?: string): Promise<[string, string, string][]> {
  const args = cache === undefined ? ["-p"] : ["-p", "-C", cache];
  const out = await new Deno.Command("ldconfig", { args, stdout: "piped", stderr: "piped" }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const rows: [string, string, string][] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\t(\S+) \((.*)\) => (.*)$/.exec(line);
    if (m) rows.push([m[1]!, m[2]!, m[3]!]);
  }
  return rows;
}

Deno.test("compareLibraryNames() compares runs of digits as numbers, like glibc's _dl_cache_libcmp", () => {
  const sign = (a: string, b: string) => Math.sign(compareLibraryNames(a, b));
  assertEquals(sign("libfoo.so.10", "libfoo.so.9"), 1);
  assertEquals(sign("libfoo.so.9", "libfoo.so.10"), -1);
  assertEquals(sign("libc.so.6", "libc.so.6"), 0);
  assertEquals(sign("libc.so", "libc.so.6"), -1);
  assertEquals(sign("libz3.so", "libz.so"), 1); // a digit sorts after any other character
  assertEquals(sign("liba.so", "libb.so"), -1);
  assertEquals(sign("lib007.so", "lib7.so"), 0);
});

Deno.test("the host's ld.so.cache parses to what ldconfig -p prints", async () => {
  if (hostCache === null || !ldconfig) return;
  const oracle = await ldconfigPrint();
  assertEquals(hostCache.length, oracle.length);
  const ours = hostCache.map((e) => [e.name, e.path, e.flags === FLAGS_X86_64_LIBC6, e.hwcaps]);
  const theirs = oracle.map(([name, desc, path]) => [
    name,
    path,
    desc.startsWith("libc6,x86-64"),
    /hwcap: "([^"]+)"/.exec(desc)?.[1] ?? null,
  ]);
  assertEquals(ours, theirs);
});

Deno.test("the host's ld.so.cache holds the libraries of the ld.so.conf and default directories", async () => {
  if (hostCache === null) return;
  const dirs = [...readLdSoConf() ?? [], ...DEFAULT_LIBRARY_DIRS];
  const x86 = hostCache.filter((e) => e.flags === FLAGS_X86_64_LIBC6 && e.hwcaps === null);
  assert(x86.length > 0, "no x86-64 entries");
  for (const entry of x86) {
    assert(dirs.includes(dirname(entry.path)), `${entry.path} is not in a configured directory`);
    const id = await readElfIdentity(entry.path).catch(() => undefined);
    if (id === undefined) continue; // a dangling development link (libfoo.so of a removed package)
    assertEquals([id?.bits, id?.machine], [64, 62], entry.path);
  }
  // Every library named by its own soname in those directories is in the cache (first directory wins).
  const expected = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].filter((e) => !e.isDirectory).map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => /^lib.*\.so\.\d+$/.test(n)).sort()) {
      if (expected.has(name)) continue;
      const elf = await readElf(`${dir}/${name}`).catch(() => null);
      if (elf?.machine === 62 && elf.type === "dyn" && elf.dynamic?.soname === name) {
        expected.set(name, `${dir}/${name}`);
      }
    }
  }
  assert(expected.size > 10, `only ${expected.size} libraries found in ${dirs.join(", ")}`);
  for (const [name, path] of expected) {
    const cached = lookupLdCache(hostCache, name);
    assert(cached !== null, `${name} (${path}) is not in ${HOST_CACHE}`);
    assertEquals(await Deno.realPath(cached), await Deno.realPath(path), name);
  }
});

Deno.test("writeLdCache() writes a cache ldconfig reads, sorted as ldconfig sorts, byte for byte reproducible", async () => {
  const libraries: [string, string][] = [
    ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"],
    ["libfoo.so.9", "/opt/lib/libfoo.so.9"],
    ["libfoo.so.10", "/opt/lib/libfoo.so.10"],
    ["libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"],
  ];
  const bytes = writeLdCache(new Map(libraries));
  assertEquals(writeLdCache(new Map([...libraries].reverse())), bytes);
  const parsed = parseLdCache(bytes, "test");
  assertEquals(parsed.map((e) => e.name), ["libz.so.1", "libfoo.so.10", "libfoo.so.9", "libc.so.6"]);
  assert(parsed.every((e) => e.flags === FLAGS_X86_64_LIBC6 && e.hwcaps === null));
  if (ldconfig) {
    const file = await Deno.makeTempFile();
    await Deno.writeFile(file, bytes);
    assertEquals(
      await ldconfigPrint(file),
      parsed.map((e) => [e.name, "libc6,x86-64", e.path] as [string, string, string]),
    );
    await Deno.remove(file);
  }
  if (hostCache !== null) {
    // Our order is the one ldconfig wrote the host's cache in.
    const names = [...new Set(hostCache.map((e) => e.name))];
    const sorted = [...names].sort((a, b) => compareLibraryNames(b, a));
    assertEquals(names, sorted);
  }
});

/** A cache with one baseline and one glibc-hwcaps entry for the same name (hwcaps extension included). */
function cacheWithHwcaps(): Uint8Array {
  const base = writeLdCache(new Map([["libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6"]]));
  const header = 48, entry = 24;
  const extra = new TextEncoder().encode("/v3/libm.so.6\0x86-64-v3\0");
  const stringsStart = header + 2 * entry;
  const oldStrings = base.subarray(header + entry);
  const out = new Uint8Array(stringsStart + oldStrings.length + extra.length + 4 + 8 + 16);
  const view = new DataView(out.buffer);
  out.set(base.subarray(0, header + entry));
  out.set(oldStrings, stringsStart);
  const shift = entry; // every string moved by one entry
  view.setUint32(header + 4, view.getUint32(header + 4, true) + shift, true);
  view.setUint32(header + 8, view.getUint32(header + 8, true) + shift, true);
  const extraAt = stringsStart + oldStrings.length;
  out.set(extra, extraAt);
  // The hwcaps entry first: ld.so (and lookupLdCache) must still choose the baseline one for us.
  const first = header, second = header + entry;
  out.copyWithin(second, first, first + entry);
  view.setInt32(first, 0x0303, true);
  view.setUint32(first + 4, view.getUint32(second + 4, true), true);
  view.setUint32(first + 8, extraAt, true);
  view.setBigUint64(first + 16, (1n << 62n) | 0n, true);
  view.setUint32(20, 2, true);
  const table = extraAt + extra.length;
  view.setUint32(table, extraAt + 14, true); // "x86-64-v3"
  const ext = table + 4;
  view.setUint32(32, ext, true);
  view.setUint32(ext, 0xeaa42174, true);
  view.setUint32(ext + 4, 1, true);
  view.setUint32(ext + 8, 1, true); // tag: glibc-hwcaps
  view.setUint32(ext + 16, table, true);
  view.setUint32(ext + 20, 4, true);
  return out;
}

Deno.test("glibc-hwcaps entries are read with their subdirectory and passed over by lookups", () => {
  const entries: LdCacheEntry[] = parseLdCache(cacheWithHwcaps(), "hwcaps");
  assertEquals(entries.map((e) => [e.name, e.path, e.hwcaps]), [
    ["libm.so.6", "/v3/libm.so.6", "x86-64-v3"],
    ["libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6", null],
  ]);
  assertEquals(lookupLdCache(entries, "libm.so.6"), "/lib/x86_64-linux-gnu/libm.so.6");
  assertEquals(lookupLdCache(entries, "libnope.so.1"), null);
});

Deno.test("corrupt caches are errors naming the file and the problem", () => {
  const good = writeLdCache(new Map([["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"]]));
  const message = (bytes: Uint8Array) => assertThrows(() => parseLdCache(bytes, "c")).message;
  assertEquals(message(new TextEncoder().encode("hello")), `Cannot read "c": not an ld.so.cache file (bad magic)`);
  assertEquals(message(good.subarray(0, 30)), `Cannot read "c": truncated header`);
  const many = good.slice();
  new DataView(many.buffer).setUint32(20, 1000, true);
  assertEquals(message(many), `Cannot read "c": 1000 entries run past the end of the file`);
  const farString = good.slice();
  new DataView(farString.buffer).setUint32(48 + 8, 99999, true);
  assertEquals(message(farString), `Cannot read "c": path string offset 99999 is past the end`);
  const unterminated = good.slice(0, good.length - 1);
  assertEquals(message(unterminated), `Cannot read "c": path string at 82 is not NUL-terminated`);
  const bigEndian = good.slice();
  bigEndian[28] = 3;
  assertEquals(message(bigEndian), `Cannot read "c": not a little-endian cache`);
  const oldOnly = new Uint8Array(16);
  oldOnly.set(new TextEncoder().encode("ld.so-1.7.0"));
  assertEquals(message(oldOnly), `Cannot read "c": old-format cache without the new format (unsupported)`);
});

Deno.test("readLdCache() of a missing file is null", async () => {
  assertEquals(await readLdCache("/nonexistent/ld.so.cache"), null);
});
