/**
 * The kernel's network stack on the host: kernel/net/ compiled with gcc for Linux together with the
 * shim and the tests of kernel/tests/ (net_shim.c, net_test.c), under AddressSanitizer and
 * UndefinedBehaviorSanitizer, so that hostile frames that read out of bounds fail loudly.
 */

import assert from "node:assert/strict";
import { fixtures, ROOT } from "./_helpers.ts";
import { ensureHostTools } from "../../core/setup.ts";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: r.code, out: text.decode(r.stdout) + text.decode(r.stderr) };
}

Deno.test("kernel TCP/IP input paths survive hostile frames and handle reordering, overlap and loss (host build, ASan+UBSan)", async () => {
  await ensureHostTools(["gcc"]);
  const kernel = `${ROOT}kernel`;
  const dir = await fixtures();
  const sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"];
  const shim = await run("gcc", [
    "-std=gnu11",
    "-O1",
    "-g",
    ...sanitize,
    "-c",
    `${kernel}/tests/net_shim.c`,
    "-o",
    `${dir}/net_shim.o`,
  ]);
  assert.equal(shim.code, 0, shim.out);
  const sources = [...Deno.readDirSync(`${kernel}/net`)]
    .filter((e) => e.name.endsWith(".c"))
    .map((e) => `${kernel}/net/${e.name}`)
    .sort();
  const build = await run("gcc", [
    "-std=gnu11",
    "-O1",
    "-g",
    ...sanitize,
    "-nostdinc",
    "-fno-builtin",
    `-I${kernel}`,
    `-I${kernel}/include`,
    "-Wall",
    "-Wno-unused-parameter",
    "-Werror",
    "-o",
    `${dir}/net_test`,
    ...sources,
    `${kernel}/tests/net_test.c`,
    `${dir}/net_shim.o`,
  ]);
  assert.equal(build.code, 0, build.out);
  const result = await run(`${dir}/net_test`, []);
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /\d+ checks, 0 failed/);
});
