import { assertEquals } from "./_assert.ts";
import { expandGlob, readLdSoConf } from "../../core/ldconf.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.realPath(await Deno.makeTempDir());
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text.replaceAll("ROOT", root));
  }
  return root;
}

Deno.test("readLdSoConf() reads directories in order, with comments, hwcap lines, =type suffixes and duplicates", async () => {
  const root = await tree({
    "ld.so.conf": "# comment\n\n/usr/local/lib\n  /opt/a/lib/  # trailing comment\nhwcap 1 nosegneg\n" +
      "/opt/old=libc6\n/usr/local/lib\nrelative/dir\n",
  });
  assertEquals(readLdSoConf(`${root}/ld.so.conf`), ["/usr/local/lib", "/opt/a/lib", "/opt/old"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("include patterns are globbed in sorted order, relative to the including file, nested", async () => {
  const root = await tree({
    "etc/ld.so.conf": "include ld.so.conf.d/*.conf ROOT/extra.conf\n/last\n",
    "etc/ld.so.conf.d/b.conf": "/b\ninclude nested/?.conf\n",
    "etc/ld.so.conf.d/a.conf": "/a\n",
    "etc/ld.so.conf.d/ignored.txt": "/not-included\n",
    "etc/ld.so.conf.d/.hidden.conf": "/hidden\n",
    "etc/ld.so.conf.d/nested/x.conf": "/x\n",
    "extra.conf": "/extra\n",
  });
  assertEquals(readLdSoConf(`${root}/etc/ld.so.conf`), ["/a", "/b", "/x", "/extra", "/last"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("files that include each other are read once, not forever; a missing file is null", async () => {
  const root = await tree({
    "a.conf": "/from-a\ninclude b.conf\n",
    "b.conf": "/from-b\ninclude a.conf\ninclude a.conf\n",
  });
  assertEquals(readLdSoConf(`${root}/a.conf`), ["/from-a", "/from-b"]);
  assertEquals(readLdSoConf(`${root}/none.conf`), null);
  await Deno.remove(root, { recursive: true });
});

Deno.test("expandGlob() matches *, ? and [...] per component, only existing paths", async () => {
  const root = await tree({ "d1/x.conf": "", "d2/y.conf": "", "d2/z.txt": "", "e/x.conf": "" });
  assertEquals(expandGlob(`${root}/d*/*.conf`), [`${root}/d1/x.conf`, `${root}/d2/y.conf`]);
  assertEquals(expandGlob(`${root}/d[!1]/?.*`), [`${root}/d2/y.conf`, `${root}/d2/z.txt`]);
  assertEquals(expandGlob(`${root}/e/x.conf`), [`${root}/e/x.conf`]);
  assertEquals(expandGlob(`${root}/e/missing.conf`), []);
  await Deno.remove(root, { recursive: true });
});
