import assert from "node:assert/strict";
import { addHostFileKeepingLinks, addHostPath, describeManifest, parseAddSpec } from "../../core/add.ts";
import { type ManifestEntry, sortedEntries } from "../../core/manifest.ts";

Deno.test("parseAddSpec() takes HOST:GUEST, and the host path itself without GUEST", () => {
  assert.deepEqual(parseAddSpec("data:/srv/data", "/home/me"), { host: "/home/me/data", guest: "/srv/data" });
  assert.deepEqual(parseAddSpec("/etc/hosts", "/x"), { host: "/etc/hosts", guest: "/etc/hosts" });
  assert.deepEqual(parseAddSpec("a:b", "/w"), { host: "/w/a:b", guest: "/w/a:b" }); // guest must be absolute
  assert.throws(() => parseAddSpec(":/x", "/w"), TypeError);
});

Deno.test("addHostPath() keeps modes, symlinks and empty directories of a tree", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/empty`);
  await Deno.writeTextFile(`${root}/run.sh`, "#!/bin/sh\n");
  await Deno.chmod(`${root}/run.sh`, 0o750);
  await Deno.symlink("run.sh", `${root}/link`);
  const manifest = new Map();
  const count = addHostPath(manifest, { host: root, guest: "/app" });
  assert.equal(count, 4);
  const emptyMode = (Deno.statSync(`${root}/empty`).mode ?? 0) & 0o7777;
  assert.deepEqual(manifest.get("/app/empty"), { kind: "dir", mode: emptyMode });
  assert.deepEqual(manifest.get("/app/run.sh"), { kind: "file", hostPath: `${root}/run.sh`, mode: 0o750 });
  assert.deepEqual(manifest.get("/app/link"), { kind: "symlink", target: "run.sh" });
  const listing = describeManifest(sortedEntries(manifest));
  assert.match(listing, /^file 0750 \/app\/run\.sh <- /m);
  assert.match(listing, /^link {6}\/app\/link -> run\.sh$/m);
  await Deno.remove(root, { recursive: true });
});

Deno.test("addHostPath() names a missing host path", () => {
  assert.throws(() => addHostPath(new Map(), { host: "/no/such/path", guest: "/x" }), /Cannot add "\/no\/such\/path"/);
});

/** Follows a guest path through the manifest's links like the kernel does; the entry it ends at. */
function resolveInManifest(manifest: Map<string, ManifestEntry>, path: string): string {
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
    assert.ok(entry, `${here} is not in the manifest (resolving ${path})`);
    if (entry.kind === "symlink") {
      assert.ok(++hops < 40);
      pending.unshift(...entry.target.split("/"));
      if (entry.target.startsWith("/")) resolved = [];
    } else resolved.push(part);
  }
  return "/" + resolved.join("/");
}

Deno.test("addHostFileKeepingLinks() keeps every link on the way, the file at its resolved path", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  await Deno.mkdir(`${root}/usr/lib/x86_64-linux-gnu`, { recursive: true });
  await Deno.mkdir(`${root}/usr/lib64`);
  await Deno.writeTextFile(`${root}/usr/lib/x86_64-linux-gnu/libfoo.so.6.0.1`, "ELF");
  await Deno.symlink("libfoo.so.6.0.1", `${root}/usr/lib/x86_64-linux-gnu/libfoo.so.6`);
  await Deno.symlink("usr/lib", `${root}/lib`);
  await Deno.symlink("usr/lib64", `${root}/lib64`);
  await Deno.symlink(`${root}/lib/x86_64-linux-gnu/libfoo.so.6`, `${root}/usr/lib64/libfoo.so.6`);
  const manifest = new Map<string, ManifestEntry>();
  const at = addHostFileKeepingLinks(manifest, `${root}/lib64/libfoo.so.6`);
  const real = `${root}/usr/lib/x86_64-linux-gnu/libfoo.so.6.0.1`;
  assert.equal(at, real);
  assert.deepEqual(manifest.get(`${root}/lib64`), { kind: "symlink", target: "usr/lib64" });
  assert.deepEqual(manifest.get(`${root}/lib`), { kind: "symlink", target: "usr/lib" });
  assert.deepEqual(manifest.get(`${root}/usr/lib/x86_64-linux-gnu/libfoo.so.6`), {
    kind: "symlink",
    target: "libfoo.so.6.0.1",
  });
  assert.equal(manifest.get(real)?.kind, "file");
  assert.equal(resolveInManifest(manifest, `${root}/lib64/libfoo.so.6`), real);
  // Adding the same file again, or through another path, changes nothing and does not fail.
  const size = manifest.size;
  addHostFileKeepingLinks(manifest, `${root}/lib/x86_64-linux-gnu/libfoo.so.6`);
  assert.equal(manifest.size, size);
  // `..` after a link goes up from the link's target, as in the kernel.
  assert.equal(addHostFileKeepingLinks(manifest, `${root}/lib64/../lib/x86_64-linux-gnu/libfoo.so.6`), real);
  await Deno.remove(root, { recursive: true });
});

Deno.test("addHostFileKeepingLinks() reports loops, missing files, non-directories and conflicts", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  await Deno.symlink("b", `${root}/a`);
  await Deno.symlink("a", `${root}/b`);
  await Deno.writeTextFile(`${root}/file`, "x");
  assert.throws(
    () => addHostFileKeepingLinks(new Map(), `${root}/a`),
    { message: `Cannot add "${root}/a": too many levels of symbolic links` },
  );
  assert.throws(
    () => addHostFileKeepingLinks(new Map(), `${root}/nope/x`),
    { message: `Cannot add "${root}/nope/x": "${root}/nope" does not exist` },
  );
  assert.throws(
    () => addHostFileKeepingLinks(new Map(), `${root}/file/x`),
    { message: `Cannot add "${root}/file/x": "${root}/file" is not a directory` },
  );
  assert.throws(() => addHostFileKeepingLinks(new Map(), root), {
    message: `Cannot add "${root}": not a regular file`,
  });
  const taken = new Map<string, ManifestEntry>([[`${root}/file`, { kind: "symlink", target: "elsewhere" }]]);
  assert.throws(
    () => addHostFileKeepingLinks(taken, `${root}/file`),
    { message: `Cannot add "${root}/file": the manifest already has a different symlink there` },
  );
  await Deno.remove(root, { recursive: true });
});
