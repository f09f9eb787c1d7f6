import assert from "node:assert/strict";
import { addHostPath, describeManifest, parseAddSpec } from "../../core/add.ts";
import { sortedEntries } from "../../core/manifest.ts";

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
