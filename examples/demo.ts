/**
 * `deno task demo`: installs missing host tools, compiles examples/hello/hello.c statically, builds an
 * image with `osv build` and boots it with `osv run`, showing the guest's output.
 *
 * @module
 */

import { ensureHostTools } from "../core/setup.ts";
import { main as osv } from "../core/cli.ts";

const root = new URL("..", import.meta.url).pathname;

async function compileHello(out: string): Promise<void> {
  const result = await new Deno.Command("gcc", {
    args: ["-static", "-O2", "-o", out, `${root}examples/hello/hello.c`],
    stderr: "inherit",
  }).output();
  if (!result.success) throw new Error("Cannot compile examples/hello/hello.c with gcc -static");
}

async function demo(): Promise<number> {
  await ensureHostTools(["qemu-system-x86", "gcc", "musl-tools", "qemu-utils", "cpio"]);
  await Deno.mkdir(`${root}build`, { recursive: true });
  const binary = `${root}build/hello`;
  const image = `${root}build/hello.img`;
  await compileHello(binary);
  console.error(`$ osv build ${binary} -o ${image}`);
  const built = await osv(["build", binary, "-o", image]);
  if (built !== 0) return built;
  console.error(`$ osv run ${image}`);
  const status = await osv(["run", image]);
  console.error(`(guest exit status ${status})`);
  return status;
}

if (import.meta.main) {
  try {
    Deno.exit(await demo());
  } catch (err) {
    console.error(`demo: error: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
