/**
 * A test plugin that supplies the kernel through the `kernel` hook instead of compiling kernel/:
 * the file named by `$OSV_FAKE_KERNEL`, else a small dummy file. Lets CLI tests build images without gcc
 * or a working kernel.
 *
 * @module
 */

import { definePlugin, type KernelArtifact } from "../../mod.ts";

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export default definePlugin({
  name: "test:fake-kernel",
  enforce: "pre",
  apply: "build",
  hooks: {
    async kernel(): Promise<KernelArtifact> {
      let path = Deno.env.get("OSV_FAKE_KERNEL");
      if (!path) {
        path = await Deno.makeTempFile({ prefix: "osv-fake-kernel-" });
        await Deno.writeFile(path, new TextEncoder().encode("\x7fELF fake kernel for tests\n".repeat(100)));
      }
      const bytes = await Deno.readFile(path);
      const hash = await sha256Hex(bytes);
      return { path, size: bytes.length, hash, version: `fake-${hash.slice(0, 12)}`, cached: true };
    },
  },
});
