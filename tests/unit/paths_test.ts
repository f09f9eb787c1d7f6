import * as node from "node:path";
import { pathToFileURL } from "node:url";
import { assertEquals } from "./_assert.ts";
import { basename, dirname, extname, isAbsolute, normalize, resolve, toFileUrl } from "../../core/paths.ts";

const SAMPLES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "a//b/",
  "/a",
  "/a/b/c",
  "/a/b/../c/./d",
  "../x/../../y",
  "a/b/../../..",
  "/../a",
  "build/hello.img",
  "archive.tar.gz",
  ".bashrc",
  "dir.d/file",
  "name.",
];

Deno.test("path helpers agree with node:path on POSIX paths", () => {
  for (const p of SAMPLES) {
    assertEquals(isAbsolute(p), node.posix.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
    assertEquals(normalize(p), node.posix.normalize(p).replace(/(.)\/$/, "$1"), `normalize(${JSON.stringify(p)})`);
    assertEquals(dirname(p), node.posix.dirname(p), `dirname(${JSON.stringify(p)})`);
    assertEquals(basename(p), node.posix.basename(p), `basename(${JSON.stringify(p)})`);
    assertEquals(extname(p), node.posix.extname(p), `extname(${JSON.stringify(p)})`);
    assertEquals(resolve(p), node.posix.resolve(p), `resolve(${JSON.stringify(p)})`);
    assertEquals(resolve("/base/dir", p), node.posix.resolve("/base/dir", p), `resolve(base, ${JSON.stringify(p)})`);
  }
});

Deno.test("basename() drops a matching suffix, like node:path", () => {
  for (const [p, s] of [["/a/hello.img", ".img"], ["hello", ".img"], [".img", ".img"], ["a/b.tar.gz", ".gz"]]) {
    assertEquals(basename(p!, s), node.posix.basename(p!, s));
  }
});

Deno.test("resolve() takes the last absolute path and starts from the current directory otherwise", () => {
  assertEquals(resolve("/a", "/b", "c"), "/b/c");
  assertEquals(resolve("x", "y"), `${Deno.cwd()}/x/y`);
  assertEquals(resolve(), Deno.cwd());
});

Deno.test("toFileUrl() matches node:url's pathToFileURL, including characters a URL must escape", () => {
  for (const p of ["/tmp/plugin.ts", "/tmp/a b/%41#x?y.ts", "/tmp/ünï.ts", "rel/p.ts"]) {
    assertEquals(toFileUrl(p).href, pathToFileURL(p).href, p);
  }
});
