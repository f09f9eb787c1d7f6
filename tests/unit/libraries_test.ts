import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { LibraryError, resolveLibraries, type ResolveOptions } from "../../core/libraries.ts";
import { expandTokens, searchDirs } from "../../core/ldsearch.ts";
import {
  archTree,
  confTree,
  cycleTree,
  hasTool,
  inheritTree,
  ldd,
  missingTree,
  nodeflibTree,
  originTree,
} from "./_libs.ts";
import { dynamicHello, staticHello } from "./_helpers.ts";

/** Our closure as `[name, path]` pairs in load order, the shape ldd prints. */
async function closure(program: string, options: ResolveOptions = {}): Promise<[string, string][]> {
  const { libraries } = await resolveLibraries(program, options);
  return libraries.map((l) => [l.name, l.path]);
}

/** Asserts that our closure is what the host's ld.so loads, in the same order. */
async function assertSameAsLdd(program: string): Promise<void> {
  const oracle = await ldd(program);
  assert(oracle.length > 0, `ldd ${program} listed nothing`);
  assert(oracle.every((l) => l.path !== null), `ldd ${program} misses a library: the host cannot run it`);
  assertEquals(await closure(program), oracle.map((l) => [l.name, l.path!]), program);
}

const lddAvailable = await hasTool("ldd");

Deno.test("expandTokens() expands $ORIGIN, ${ORIGIN}, $LIB and $PLATFORM, and nothing that only starts like one", () => {
  assertEquals(expandTokens("$ORIGIN/../lib", "/opt/a/bin"), "/opt/a/bin/../lib");
  assertEquals(expandTokens("${ORIGIN}/x:$LIB:${PLATFORM}", "/o"), "/o/x:lib/x86_64-linux-gnu:x86_64");
  assertEquals(expandTokens("$ORIGINAL/$LIBRARY", "/o"), "$ORIGINAL/$LIBRARY");
  assertEquals(searchDirs("$ORIGIN/lib/::relative:/usr/lib//:$ORIGIN/lib", "/app"), ["/app/lib", "/usr/lib"]);
});

Deno.test("a program's DT_RUNPATH $ORIGIN/../lib and its library's DT_RUNPATH $ORIGIN are followed as ld.so does", async () => {
  const dir = await originTree();
  const result = await resolveLibraries(`${dir}/bin/app`);
  assertEquals(result.interpreter, "/lib64/ld-linux-x86-64.so.2");
  const paths = Object.fromEntries(result.libraries.map((l) => [l.name, l.path]));
  assertEquals(paths["libfoo.so.1"], `${dir}/bin/../lib/libfoo.so.1`);
  assertEquals(paths["libdep.so.1"], `${dir}/bin/../lib/libdep.so.1`);
  assertEquals(result.libraries.find((l) => l.name === "libdep.so.1")?.neededBy, `${dir}/bin/../lib/libfoo.so.1`);
  if (lddAvailable) await assertSameAsLdd(`${dir}/bin/app`);
});

Deno.test("the program's DT_RPATH also serves its libraries' dependencies; its DT_RUNPATH does not", async () => {
  const dir = await inheritTree();
  assertEquals(await closure(`${dir}/rpath/app`), [
    ["libA.so", `${dir}/r1/libA.so`],
    ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"],
    ["libB.so", `${dir}/r1/libB.so`],
  ]);
  if (lddAvailable) await assertSameAsLdd(`${dir}/rpath/app`);

  const err = await assertRejects(() => resolveLibraries(`${dir}/runpath/app`), LibraryError);
  assertStringIncludes(err.message, `library "libB.so" needed by "${dir}/r1/libA.so" was not found (searched `);
  assert(!err.message.includes("RUNPATH of"), err.message); // libA has none, and the program's is not inherited
  if (lddAvailable) assert((await ldd(`${dir}/runpath/app`)).some((l) => l.name === "libB.so" && l.path === null));
});

Deno.test("a missing library is an error naming it, the object that needs it and every place searched", async () => {
  const dir = await missingTree();
  const err = await assertRejects(() => resolveLibraries(`${dir}/app`), LibraryError);
  assertEquals(
    err.message,
    `library "libgone.so.1" needed by "${dir}/app" was not found (searched RUNPATH of ${dir}/app: ${dir}/lib; ` +
      "/etc/ld.so.cache; default directories: /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, " +
      "/usr/lib64, /lib, /usr/lib)",
  );
});

Deno.test("a symbolic link loop where a library should be is a not-found library, not a hang", async () => {
  const src = await missingTree();
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${src}/app`, `${dir}/app`);
  await Deno.mkdir(`${dir}/lib`);
  await Deno.symlink("libgone.so.1", `${dir}/lib/libgone.so.1`);
  const err = await assertRejects(() => resolveLibraries(`${dir}/app`), LibraryError);
  assertStringIncludes(err.message, `library "libgone.so.1" needed by "${dir}/app" was not found`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a 32-bit candidate is skipped like ld.so skips it; a text file in its place is an error", async () => {
  const dir = await archTree();
  assertEquals((await closure(`${dir}/app`))[0], ["libwa.so", `${dir}/w64/libwa.so`]);
  if (lddAvailable) await assertSameAsLdd(`${dir}/app`);

  const only32 = await assertRejects(() => resolveLibraries(`${dir}/only32/app`), LibraryError);
  assertStringIncludes(only32.message, `library "libwa.so" needed by "${dir}/only32/app" was not found`);
  assertStringIncludes(only32.message, `; skipped ${dir}/w32/libwa.so (32-bit ELF)`);

  const text = await assertRejects(() => resolveLibraries(`${dir}/bad/app`), LibraryError);
  assertEquals(
    text.message,
    `library "libwa.so" needed by "${dir}/bad/app": "${dir}/text/libwa.so" is not an ELF file (invalid ELF header)`,
  );
});

Deno.test("a DT_NEEDED cycle loads each library once", async () => {
  const dir = await cycleTree();
  assertEquals(await closure(`${dir}/app`), [
    ["libcyc1.so", `${dir}/libcyc1.so`],
    ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"],
    ["libcyc2.so", `${dir}/libcyc2.so`],
  ]);
  if (lddAvailable) await assertSameAsLdd(`${dir}/app`);
});

Deno.test("DF_1_NODEFLIB keeps the cache and the default directories out of the search", async () => {
  const dir = await nodeflibTree();
  const err = await assertRejects(() => resolveLibraries(`${dir}/app`), LibraryError);
  assertStringIncludes(err.message, `library "libc.so.6" needed by "${dir}/app" was not found`);
  assertStringIncludes(err.message, "has DF_1_NODEFLIB");
  if (lddAvailable) assert((await ldd(`${dir}/app`)).some((l) => l.name === "libc.so.6" && l.path === null));
});

Deno.test("extra libraries are searched as the program would dlopen() them, with their dependencies", async () => {
  const dir = await originTree();
  const result = await resolveLibraries(`${dir}/bin/app`, { extra: ["libextra.so.1", "libfoo.so.1"] });
  const extra = result.libraries.find((l) => l.name === "libextra.so.1");
  assertEquals(extra, {
    name: "libextra.so.1",
    names: ["libextra.so.1"],
    path: `${dir}/bin/../lib/libextra.so.1`,
    neededBy: null,
  });
  // libdep.so.1 (needed by libextra too) and libfoo.so.1 were already loaded: not listed twice.
  assertEquals(result.libraries.filter((l) => l.name === "libdep.so.1" || l.name === "libfoo.so.1").length, 2);

  const byPath = await resolveLibraries(`${dir}/bin/app`, { extra: [`${dir}/lib/libextra.so.1`] });
  assertEquals(byPath.libraries.at(-1)?.path, `${dir}/lib/libextra.so.1`);

  const err = await assertRejects(() => resolveLibraries(`${dir}/bin/app`, { extra: ["libnope.so.9"] }), LibraryError);
  assertStringIncludes(err.message, `extra library "libnope.so.9" was not found (searched RUNPATH of ${dir}/bin/app:`);
});

Deno.test("a static program has no interpreter; extra libraries still bring their closure", async () => {
  const program = await staticHello();
  assertEquals(await resolveLibraries(program), { interpreter: null, libraries: [] });
  const withLibs = await resolveLibraries(program, { extra: ["libz.so.1"] });
  assertEquals(withLibs.interpreter, null);
  assertEquals(withLibs.libraries.map((l) => l.name), ["libz.so.1", "libc.so.6", "ld-linux-x86-64.so.2"]);
});

Deno.test("without an ld.so.cache the directories of ld.so.conf (with its includes) are searched", async () => {
  const dir = await confTree();
  const options = { cachePath: `${dir}/no-such-cache`, confPath: `${dir}/ld.so.conf` };
  assertEquals(await closure(`${dir}/app`, options), [
    ["libconf.so.1", `${dir}/confdir/libconf.so.1`],
    ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"],
  ]);
  const neither = { cachePath: `${dir}/no-such-cache`, confPath: `${dir}/no-such-conf` };
  const err = await assertRejects(() => resolveLibraries(`${dir}/app`, neither), LibraryError);
  assertStringIncludes(err.message, `(searched default directories: /lib/x86_64-linux-gnu`);
  assertStringIncludes((await assertRejects(() => resolveLibraries(`${dir}/app`))).message, "/etc/ld.so.cache");
});

Deno.test("an interpreter that does not exist on the host, or is relative, is an error naming it", async () => {
  const bytes = await Deno.readFile(await dynamicHello());
  const at = bytes.findIndex((_, i) => new TextDecoder().decode(bytes.subarray(i, i + 10)) === "/lib64/ld-");
  const dir = await Deno.makeTempDir();
  const patched = async (interp: string) => {
    const copy = bytes.slice();
    copy.set(new TextEncoder().encode(interp + "\0"), at);
    await Deno.writeFile(`${dir}/app`, copy);
    return (await assertRejects(() => resolveLibraries(`${dir}/app`), LibraryError)).message;
  };
  assertEquals(
    await patched("/lib64/ld-nope.so.2"),
    `interpreter "/lib64/ld-nope.so.2" of "${dir}/app" does not exist on this host`,
  );
  assertEquals(await patched("ld.so"), `interpreter "ld.so" of "${dir}/app" is not an absolute path`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the closure of real Debian programs is what ldd lists", async () => {
  if (!lddAvailable) return;
  const programs = ["/bin/ls", "/usr/bin/python3", "/usr/bin/ssh", "/usr/bin/git", "/usr/bin/curl", "/usr/bin/perl"];
  let checked = 0;
  for (const program of programs) {
    try {
      await Deno.stat(program);
    } catch {
      continue;
    }
    await assertSameAsLdd(program);
    checked++;
  }
  assert(checked > 0, "none of the programs exists on this host");
  await assertSameAsLdd(await dynamicHello());
});
