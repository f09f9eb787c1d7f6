/**
 * The host's Debian CPython as a test oracle (the product never runs it): where it is, and running it.
 *
 * @module
 */

import { ensureHostTools } from "../../core/setup.ts";

/** The host interpreter the tests compare with. */
export interface HostPython {
  /** `/usr/bin/python3`. */
  binary: string;
  /** `/usr/lib/python3.11`. */
  stdlib: string;
  /** `3.11`. */
  version: string;
}

let found: Promise<HostPython> | undefined;

/** The host's /usr/bin/python3 (installed with apt-get when missing and root). */
export function hostPython(): Promise<HostPython> {
  found ??= (async () => {
    const binary = "/usr/bin/python3";
    try {
      await Deno.stat(binary);
    } catch {
      await ensureHostTools(["python3"]);
    }
    const out = await runPython(["-c", "import sys, os; print(sys.version_info[0], sys.version_info[1], os.__file__)"]);
    const [major, minor, osFile] = out.stdout.trim().split(" ");
    return { binary, version: `${major}.${minor}`, stdlib: osFile!.slice(0, osFile!.lastIndexOf("/")) };
  })();
  return found;
}

/** Runs /usr/bin/python3 with a clean environment; its output. */
export async function runPython(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args,
    env: { PYTHONDONTWRITEBYTECODE: "1", ...options.env },
    clearEnv: true,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
