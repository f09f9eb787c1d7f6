/**
 * End-to-end test harness: compiles the C programs of tests/guest for the host (glibc or musl, static),
 * runs the `osv` CLI as a user would (`deno run -A main.ts ...`), and runs the same program on the host
 * so that Linux can serve as the oracle.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_HOST_PACKAGES, ensureHostTools } from "../../core/setup.ts";
import { probeKvm } from "../../core/host.ts";

/** The repository root, with a trailing slash. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** What a finished process left. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** The C library a guest program is linked with: statically, or (`glibc-dynamic`) as a normal dynamically
 * linked executable that needs the host's ld.so and libc.so.6 in the image (see {@linkcode dynamicLibraries}). */
export type Libc = "glibc" | "musl" | "glibc-dynamic";

/** The accelerators every end-to-end test runs under: TCG always, KVM when /dev/kvm is usable. */
export function accelerators(): ("tcg" | "kvm")[] {
  const forced = Deno.env.get("OSV_E2E_ACCELS");
  if (forced) return forced.split(",").filter((a): a is "tcg" | "kvm" => a === "tcg" || a === "kvm");
  return probeKvm().usable ? ["tcg", "kvm"] : ["tcg"];
}

let workDir: Promise<string> | undefined;

/** A directory for this test process's binaries and images; installs missing host packages first. */
export function work(): Promise<string> {
  workDir ??= (async () => {
    await ensureHostTools(DEFAULT_HOST_PACKAGES);
    return await Deno.makeTempDir({ prefix: "osv-e2e-" });
  })();
  return workDir;
}

const compiled = new Map<string, Promise<string>>();

/** Compiles tests/guest/NAME.c with the given libc (statically, except `glibc-dynamic`); the binary's path
 * (named NAME). */
export function guestProgram(name: string, libc: Libc = "glibc"): Promise<string> {
  const key = `${name}:${libc}`;
  let found = compiled.get(key);
  if (!found) {
    found = (async () => {
      const dir = `${await work()}/${libc}`;
      await Deno.mkdir(dir, { recursive: true });
      const out = `${dir}/${name}`;
      const compiler = libc === "musl" ? "musl-gcc" : "gcc";
      const linking = libc === "glibc-dynamic" ? [] : ["-static"];
      const result = await run(compiler, [...linking, "-O2", "-g", "-o", out, `${ROOT}tests/guest/${name}.c`]);
      if (result.code !== 0) throw new Error(`${compiler} ${name}.c failed:\n${result.stderr}`);
      return out;
    })();
    compiled.set(key, found);
  }
  return found;
}

/** Runs a command to completion, capturing its output. */
export async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<Outcome> {
  const options: Deno.CommandOptions = { args, stdout: "piped", stderr: "piped", stdin: "null" };
  if (env) options.env = env;
  const out = await new Deno.Command(cmd, options).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs the osv CLI from the sources. */
export function osv(...args: string[]): Promise<Outcome> {
  return run(Deno.execPath(), ["run", "-A", "--quiet", `${ROOT}main.ts`, ...args]);
}

/** Builds an image of one program with `osv build` (ramfs, raw); its path. */
export async function buildImage(program: string, extra: string[] = []): Promise<string> {
  const image = `${program}-${crypto.randomUUID().slice(0, 8)}.img`;
  const result = await osv("build", program, "-o", image, ...extra);
  if (result.code !== 0) throw new Error(`osv build ${program} failed (${result.code}):\n${result.stderr}`);
  return image;
}

/** Options of {@linkcode boot}. */
export interface BootOptions {
  accel: "tcg" | "kvm";
  hypervisor?: "qemu" | "qemu-microvm";
  cmdline?: string;
  mem?: string;
}

/** Boots an image with `osv run`. */
export function boot(image: string, options: BootOptions): Promise<Outcome> {
  const args = ["run", image, "--accel", options.accel, "--hypervisor", options.hypervisor ?? "qemu-microvm"];
  if (options.cmdline !== undefined) args.push("-e", options.cmdline);
  if (options.mem) args.push("-m", options.mem);
  return osv(...args);
}

/** Runs a program on the host with the given arguments and environment only. */
export async function onHost(program: string, args: string[] = [], env: Record<string, string> = {}): Promise<Outcome> {
  const out = await new Deno.Command(program, { args, env, clearEnv: true, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/**
 * Runs a guest program that takes a directory as its argument in osv's /tmp and on the host in a fresh
 * directory (under `hostParent`), and asserts that both pass every check and print the same.
 *
 * @param image the program's image (the program at `/<name>`)
 * @param program the host build of the program
 * @param accel accelerator of the guest run
 * @param hostParent where the host's directory is made (default: the system's temp directory)
 */
export async function assertSameInTmp(
  image: string,
  program: string,
  accel: BootOptions["accel"],
  hostParent?: string,
): Promise<void> {
  const name = program.slice(program.lastIndexOf("/") + 1);
  const dir = await Deno.makeTempDir({ prefix: `osv-${name}-`, ...(hostParent ? { dir: hostParent } : {}) });
  try {
    const [guest, host] = await Promise.all([boot(image, { accel, cmdline: `/${name} /tmp` }), onHost(program, [dir])]);
    assert.equal(host.code, 0, host.stderr);
    assert.match(host.stdout, /checks passed\n$/);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `--add` arguments that put what a dynamically linked program needs into an image: its interpreter
 * (ld.so) and shared libraries as `ldd` finds them on the host, at the same paths, each symbolic link
 * (such as /lib64/ld-linux-x86-64.so.2) together with the file it leads to.
 */
export async function dynamicLibraries(program: string): Promise<string[]> {
  const out = await run("ldd", [program]);
  if (out.code !== 0) throw new Error(`ldd ${program} failed:\n${out.stderr}`);
  const args: string[] = [];
  const seen = new Set<string>();
  for (const line of out.stdout.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    let path = line.match(/(\/\S+) \(0x[0-9a-f]+\)$/)?.[1];
    for (let links = 0; path !== undefined && !seen.has(path) && links < 40; links++) {
      seen.add(path);
      args.push("--add", path);
      if (!(await Deno.lstat(path)).isSymlink) break;
      const target = await Deno.readLink(path);
      path = target.startsWith("/") ? target : `${path.slice(0, path.lastIndexOf("/"))}/${target}`;
    }
  }
  return args;
}
