import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { collectManifest } from "../../core/pipeline.ts";
import { main } from "../../core/cli.ts";
import { native } from "../../plugins/native.ts";
import { type Manifest, type ManifestEntry, sortedEntries } from "../../core/manifest.ts";
import { parseLdCache } from "../../core/ldcache.ts";
import { GLIBC_UNWINDER, LibraryError, resolveLibraries } from "../../core/libraries.ts";
import type { BuildConfig } from "../../core/hooks.ts";
import { captureIO, dynamicHello, staticHello } from "./_helpers.ts";
import { hasTool, missingTree, originTree } from "./_libs.ts";

/** Runs rt:native's collect alone (no /etc plugin), as the pipeline would with these settings. */
async function collect(app: string, libraries: string[] = [], warnings: string[] = []) {
  const runtime = native().runtimes![0]!;
  const config: BuildConfig = {
    app,
    output: undefined,
    fs: "ramfs",
    format: "raw",
    runtime: undefined,
    cmdline: undefined,
    libraries,
    network: undefined,
    options: {},
  };
  return await runtime.collect(app, { plugin: "rt:native", warn: (m) => void warnings.push(m), config });
}

/** Where the host's libgcc_s.so.1 (which rt:native adds for glibc's unwinding) is found, or null. */
async function hostUnwinder(): Promise<string | null> {
  try {
    const { libraries } = await resolveLibraries(await dynamicHello(), { extra: [GLIBC_UNWINDER] });
    return libraries.find((l) => l.names.includes(GLIBC_UNWINDER))?.path ?? null;
  } catch (err) {
    if (err instanceof LibraryError) return null;
    throw err;
  }
}

/** Follows a guest path through the manifest's links; the file entry it ends at. */
function fileAt(manifest: Manifest, path: string): ManifestEntry & { kind: "file" } {
  const pending = path.split("/");
  let resolved: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const here = "/" + [...resolved, part].join("/");
    const entry = manifest.get(here);
    assert(entry !== undefined, `${here} is not in the manifest (resolving ${path})`);
    if (entry.kind === "symlink") {
      assert(++hops < 40, `link loop at ${here}`);
      pending.unshift(...entry.target.split("/"));
      if (entry.target.startsWith("/")) resolved = [];
    } else resolved.push(part);
  }
  const entry = manifest.get("/" + resolved.join("/"));
  assert(entry?.kind === "file", `${path} does not end at a file`);
  return entry;
}

/** Asserts that `path` resolves in the manifest to the file it resolves to on the host. */
async function assertSameFile(manifest: Manifest, path: string): Promise<void> {
  const entry = fileAt(manifest, path);
  assertEquals(entry.hostPath, await Deno.realPath(path), path);
}

function cacheOf(manifest: Manifest): Record<string, string> {
  const entry = manifest.get("/etc/ld.so.cache");
  assert(entry?.kind === "file" && entry.bytes !== undefined, "no generated /etc/ld.so.cache");
  return Object.fromEntries(parseLdCache(entry.bytes, "guest").map((e) => [e.name, e.path]));
}

Deno.test("a static program is only itself, at /<name>", async () => {
  const collected = await collect(await staticHello());
  assertEquals([...collected.manifest.keys()], ["/hello"]);
  assertEquals(collected.cmdline, "/hello");
});

Deno.test("a dynamic program brings its interpreter and libc at their host paths, links kept, and an ld.so.cache", async () => {
  const { manifest, cmdline } = await collect(await dynamicHello());
  assertEquals(cmdline, "/hello-dyn");
  await assertSameFile(manifest, "/lib64/ld-linux-x86-64.so.2");
  await assertSameFile(manifest, "/lib/x86_64-linux-gnu/libc.so.6");
  const unwinder = await hostUnwinder();
  assertEquals(cacheOf(manifest), {
    "libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
    ...(unwinder ? { [GLIBC_UNWINDER]: unwinder } : {}),
  });
  // Only what the program loads: the program, two files (and glibc's unwinder), the cache, links and
  // directories.
  const files = sortedEntries(manifest).filter(([, e]) => e.kind === "file").map(([p]) => p);
  assertEquals(files.length, unwinder ? 5 : 4, files.join(", "));
});

Deno.test("libraries found through $ORIGIN are placed as on the host and listed in the guest's ld.so.cache", async () => {
  const dir = await originTree();
  const warnings: string[] = [];
  const { manifest } = await collect(`${dir}/bin/app`, [], warnings);
  await assertSameFile(manifest, `${dir}/bin/../lib/libfoo.so.1`);
  await assertSameFile(manifest, `${dir}/lib/libdep.so.1`);
  assertEquals(manifest.get(`${dir}/lib/libdep.so.1`), { kind: "symlink", target: "libdep.so.1.0" });
  const cache = cacheOf(manifest);
  assertEquals(cache["libfoo.so.1"], `${dir}/bin/../lib/libfoo.so.1`);
  assertEquals(cache["libdep.so.1"], `${dir}/bin/../lib/libdep.so.1`);
  // The fixtures live in /tmp, which the guest's tmpfs hides: the build says so.
  if (dir.startsWith("/tmp/")) {
    assertStringIncludes(warnings.join("\n"), "the guest mounts a tmpfs at /tmp, which hides");
  }
});

Deno.test("--lib adds a dlopen()ed library and its closure, also to a static program", async () => {
  const { manifest } = await collect(await staticHello(), ["libz.so.1"]);
  await assertSameFile(manifest, "/lib/x86_64-linux-gnu/libz.so.1");
  const unwinder = (await hostUnwinder()) ? [GLIBC_UNWINDER] : [];
  assertEquals(Object.keys(cacheOf(manifest)).sort(), ["ld-linux-x86-64.so.2", "libc.so.6", ...unwinder, "libz.so.1"]);

  const io = captureIO();
  const status = await main(["build", await dynamicHello(), "--lib", "libz.so.1", "--dry-run"], io);
  assertEquals(status, 0, io.err);
  assertStringIncludes(io.out, "/usr/lib/x86_64-linux-gnu/libz.so.1");
  assertStringIncludes(io.out, "link      /lib64 -> usr/lib64\n");
});

Deno.test("a missing library fails the build with the library, who needs it and where it was looked for", async () => {
  const dir = await missingTree();
  const err = await assertRejects(() => collectManifest({ app: `${dir}/app` }));
  assertStringIncludes(
    err.message,
    `Cannot build "${dir}/app": library "libgone.so.1" needed by "${dir}/app" was not found (searched RUNPATH of`,
  );
  const io = captureIO();
  assertEquals(await main(["build", await dynamicHello(), "--lib", "libnope.so.3", "--dry-run"], io), 1);
  assertStringIncludes(io.err, `extra library "libnope.so.3" was not found (searched /etc/ld.so.cache; default`);
});

/** Writes the manifest out as a directory tree (what the guest would see). */
async function materialize(manifest: Manifest, root: string): Promise<void> {
  for (const [path, entry] of sortedEntries(manifest)) {
    const at = `${root}${path}`;
    if (entry.kind === "dir") await Deno.mkdir(at, { mode: entry.mode });
    else if (entry.kind === "symlink") await Deno.symlink(entry.target, at);
    else if (entry.hostPath !== undefined) await Deno.copyFile(entry.hostPath, at);
    else await Deno.writeFile(at, entry.bytes, { mode: entry.mode });
  }
}

/** Runs a program inside `root` with the host's real ld.so (`chroot`, as root or in a user namespace). */
async function inRoot(root: string, program: string): Promise<{ code: number; out: string } | null> {
  for (const [command, args] of [["chroot", [root, program]], ["unshare", ["-r", "chroot", root, program]]] as const) {
    if (!await hasTool(command)) continue;
    const result = await new Deno.Command(command, {
      args: [...args],
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const err = new TextDecoder().decode(result.stderr);
    if (/Operation not permitted|cannot change root/.test(err)) continue;
    return { code: result.code, out: new TextDecoder().decode(result.stdout) + err };
  }
  return null;
}

Deno.test("the manifest alone runs the program with the host's real ld.so (chroot), thanks to the generated cache", async () => {
  const dir = await originTree();
  const { manifest } = await collectManifest({ app: `${dir}/bin/app`, warn: () => {} });
  const root = await Deno.makeTempDir();
  await materialize(manifest, root);
  const run = await inRoot(root, "/app");
  if (run === null) return; // neither chroot nor a user namespace is allowed here
  assertEquals(run, { code: 0, out: "" });
  // At /app, $ORIGIN/../lib is /lib: without the cache ld.so does not find libfoo.
  await Deno.remove(`${root}/etc/ld.so.cache`);
  const without = await inRoot(root, "/app");
  assert(without !== null && without.code === 127, JSON.stringify(without));
  assertStringIncludes(without.out, "libfoo.so.1: cannot open shared object file");

  const hello = await Deno.makeTempDir();
  await materialize((await collectManifest({ app: await dynamicHello(), warn: () => {} })).manifest, hello);
  assertEquals(await inRoot(hello, "/hello-dyn"), { code: 0, out: "hello\n" });
  await Deno.remove(root, { recursive: true });
  await Deno.remove(hello, { recursive: true });
});
