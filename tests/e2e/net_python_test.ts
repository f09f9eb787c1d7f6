/**
 * Python's http.server in osv (`osv build --runtime python`, `ThreadingHTTPServer` as
 * `python3 -m http.server` uses) serves a 50 MiB file to the host through `osv run --forward`; the
 * SHA-256 of what curl and fetch get is the file's. TCG only: under kvm_pvm every guest kernel entry is
 * emulated (Python's start alone takes 7-10 s there, see python_test.ts) and 50 MiB through the
 * user-mode network would take minutes.
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { osv, work } from "./_harness.ts";
import { freePort, startOsv } from "./_net.ts";

const SIZE = 50 << 20;

const SERVER = `
import http.server, os

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "www"))
server = http.server.ThreadingHTTPServer(("", 8000), http.server.SimpleHTTPRequestHandler)
print("python http.server: listening on 8000", flush=True)
server.serve_forever()
`;

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("python http.server in osv serves a 50 MiB file whose SHA-256 matches (curl and fetch) [tcg]", async () => {
  await ensureHostTools(["curl"]);
  const dir = `${await work()}/python-http-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(`${dir}/www`, { recursive: true });
  await Deno.writeTextFile(`${dir}/main.py`, SERVER);
  const file = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) crypto.getRandomValues(file.subarray(at, at + 65536));
  await Deno.writeFile(`${dir}/www/big.bin`, file);
  const expected = await sha256(file);

  const image = `${dir}.img`;
  const built = await osv("build", "--runtime", "python", dir, "-o", image);
  assert.equal(built.code, 0, built.stderr);
  const port = freePort();
  const guest = startOsv([image, "--accel", "tcg", "-m", "256M", "--forward", `tcp:${port}:8000`]);
  try {
    await guest.waitFor(/python http.server: listening on 8000/, 120_000);
    const url = `http://127.0.0.1:${port}/big.bin`;
    const curl = await new Deno.Command("curl", {
      args: ["-s", "-S", "-f", "-m", "300", url],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(curl.code, 0, new TextDecoder().decode(curl.stderr));
    assert.equal(curl.stdout.length, SIZE);
    assert.equal(await sha256(curl.stdout), expected, "curl");
    const response = await fetch(url, { signal: AbortSignal.timeout(300_000) });
    assert.equal(response.status, 200);
    assert.equal(await sha256(new Uint8Array(await response.arrayBuffer())), expected, "fetch");
    assert.match(guest.output(), /"GET \/big.bin HTTP\/1.1" 200/);
  } finally {
    guest.kill();
    await guest.status;
  }
});
