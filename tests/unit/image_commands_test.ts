import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { main } from "../../core/cli.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { captureIO, removeDryRunFiles, ROOT, sh, staticHello } from "./_helpers.ts";

const FAKE_KERNEL = `${ROOT}tests/plugins/fake_kernel.ts`;

async function osv(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIO();
  const status = await main(args, io);
  return { status, out: io.out, err: io.err };
}

Deno.test("osv build picks the format from the -o extension; convert, inspect and set-cmdline work on it", async () => {
  await ensureHostTools(["qemu-utils"]);
  const dir = await Deno.makeTempDir();
  const app = await staticHello();
  const built = await osv("build", app, "-o", `${dir}/app.qcow2`, "--plugin", FAKE_KERNEL, "--json");
  assertEquals(built.status, 0, built.err);
  assertEquals(JSON.parse(built.out).format, "qcow2");
  assertStringIncludes((await sh("qemu-img", ["check", `${dir}/app.qcow2`])).stdout, "No errors");

  for (const target of ["app.vmdk", "app.vdi", "app.img"]) {
    const converted = await osv("convert", `${dir}/app.qcow2`, `${dir}/${target}`, "--json");
    assertEquals(converted.status, 0, converted.err);
  }
  assertEquals((await osv("convert", `${dir}/app.vdi`, `${dir}/s.vmdk`, "--format", "vmdk-stream")).status, 0);
  for (const other of ["app.qcow2", "app.vmdk", "app.vdi", "s.vmdk"]) {
    assertStringIncludes((await sh("qemu-img", ["compare", `${dir}/app.img`, `${dir}/${other}`])).stdout, "identical");
  }

  const inspected = await osv("inspect", `${dir}/s.vmdk`, "--files", "--json");
  assertEquals(inspected.status, 0, inspected.err);
  const info = JSON.parse(inspected.out);
  assertEquals(info.format, "vmdk-stream");
  assertEquals(info.header.cmdline, "/hello");
  assertEquals(info.header.fsType, "rofs");
  const files = info.files.map((f: { path: string }) => f.path).filter((p: string) => !p.startsWith("/etc"));
  assertEquals(files, ["/hello"]); // and the generated /etc
  const text = await osv("inspect", `${dir}/app.vdi`);
  assertStringIncludes(text.out, "format       vdi\n");
  assertStringIncludes(text.out, "cmdline      /hello\n");

  for (const name of ["app.img", "app.qcow2", "app.vmdk", "app.vdi"]) {
    const set = await osv("image", "set-cmdline", `${dir}/${name}`, "--bootchart /hello 'a b'");
    assertEquals(set.status, 0, set.err);
    assertEquals(
      JSON.parse((await osv("inspect", `${dir}/${name}`, "--json")).out).header.cmdline,
      "--bootchart /hello 'a b'",
    );
  }
  assertStringIncludes((await sh("qemu-img", ["check", `${dir}/app.qcow2`])).stdout, "No errors");
  const stream = await osv("image", "set-cmdline", `${dir}/s.vmdk`, "/x");
  assertEquals(stream.status, 1);
  assertStringIncludes(stream.err, `"${dir}/s.vmdk": the vmdk-stream format does not store it in place`);

  const dry = await osv("run", "--dry-run", "--no-net", `${dir}/app.vmdk`);
  assertEquals(dry.status, 0, dry.err);
  assertStringIncludes(dry.out, "--bootchart /hello");
  await removeDryRunFiles(dry.out);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("convert, inspect and run name the file and exit 1 on corrupt or unknown input", async () => {
  const dir = await Deno.makeTempDir();
  const bad = `${dir}/bad.qcow2`;
  await Deno.writeFile(bad, new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
  for (const args of [["convert", bad, `${dir}/x.img`], ["inspect", bad], ["run", "--dry-run", bad]]) {
    const result = await osv(...args);
    assertEquals(result.status, 1, args.join(" "));
    assertStringIncludes(result.err, `qcow2 image "${bad}": truncated header`);
  }
  const junk = `${dir}/junk.bin`;
  await Deno.writeFile(junk, new Uint8Array(1000).fill(7));
  const inspected = await osv("inspect", junk);
  assertEquals(inspected.status, 1);
  assertStringIncludes(inspected.err, `"${junk}": no osv header`);
  const unknown = await osv("convert", junk, `${dir}/out.xyz`);
  assertEquals(unknown.status, 1);
  assertStringIncludes(unknown.err, "unknown extension");
  assert(!(await osv("convert", `${dir}/missing.img`, `${dir}/o.img`)).err.includes("at "), "no stack trace");
  await Deno.remove(dir, { recursive: true });
});
