/**
 * Networking test helpers: boots the kernel in QEMU directly with a virtio-net NIC on QEMU's user-mode
 * network, restricted so that the guest reaches nothing but the port forwards from 127.0.0.1 (kernel
 * tests: net_http_test.ts, net_tap_test.ts), and follows a guest's console (also `osv run`'s, in
 * net_cli_test.ts).
 *
 * @module
 */

import { buildKernel } from "../../kernel/build.ts";
import { KVM_CPU, qemuBinary, TCG_CPU } from "../../hypervisors/_qemu_common.ts";
import { MICROVM_OPTIONS } from "../../hypervisors/qemu_microvm.ts";
import { probeKvm, PVM_SAFE_OPTION } from "../../core/host.ts";
import { run, work } from "./_harness.ts";

/** A cpio "newc" archive holding one executable file at `/path`. */
export function cpioWith(path: string, data: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const pad4 = (n: number) => new Uint8Array((4 - (n % 4)) % 4);
  const entry = (name: string, mode: number, body: Uint8Array) => {
    const nameBytes = new TextEncoder().encode(name + "\0");
    const fields = [1, mode, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = new TextEncoder().encode("070701" + fields.map(hex).join(""));
    chunks.push(header, nameBytes, pad4(header.length + nameBytes.length), body, pad4(body.length));
  };
  entry(path, 0o100755, data);
  entry("TRAILER!!!", 0, new Uint8Array(0));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The QEMU machines the NIC is tested on. */
export const NET_MACHINES = {
  "pc, virtio-net-pci": { machine: "pc", nic: ["-device", "virtio-net-pci,netdev=n0"] },
  "microvm, legacy virtio-mmio": {
    machine: `microvm,${MICROVM_OPTIONS}`,
    nic: ["-device", "virtio-net-device,netdev=n0"],
  },
  "microvm, modern virtio-mmio": {
    machine: `microvm,${MICROVM_OPTIONS}`,
    nic: ["-global", "virtio-mmio.force-legacy=false", "-device", "virtio-net-device,netdev=n0"],
  },
} as const;

/** Options of {@linkcode bootWithNetwork}. */
export interface NetBootOptions {
  accel: "tcg" | "kvm";
  machine: string;
  nic: readonly string[];
  program: string;
  /** Kernel command line after the options the helper adds (program path and arguments). */
  cmdline: string;
  /** tcp:HOST-PORT:GUEST-PORT forwards from 127.0.0.1 (user-mode network). */
  forwards?: { host: number; guest: number }[];
  /** Instead of the user-mode network: a tap device, QEMU running inside this network namespace. */
  tap?: { namespace: string; device: string };
}

/** A running guest: its console so far, a way to wait for a line, and its end. */
export interface NetGuest {
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** The process's exit code (QEMU's: the app's status s gives (s << 1) | 1; `osv run`'s: the app's). */
  status: Promise<number>;
  kill(): void;
}

/** The QEMU arguments of the user-mode network with port forwards (what `osv run` must add). */
export function userNetworkArgs(forwards: { host: number; guest: number }[]): string[] {
  const fwd = forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join("");
  return ["-netdev", `user,id=n0,restrict=on${fwd}`];
}

/** Boots the kernel with `program` at /app and a NIC on QEMU's user-mode network. */
export async function bootWithNetwork(options: NetBootOptions): Promise<NetGuest> {
  const kernel = await buildKernel();
  const dir = await work();
  const initrd = `${dir}/net-${crypto.randomUUID().slice(0, 8)}.cpio`;
  await Deno.writeFile(initrd, cpioWith("app", await Deno.readFile(options.program)));
  const pvm = options.accel === "kvm" && probeKvm().pvm ? `${PVM_SAFE_OPTION} ` : "";
  const network = options.tap
    ? ["-netdev", `tap,id=n0,ifname=${options.tap.device},script=no,downscript=no`]
    : userNetworkArgs(options.forwards ?? []);
  const qemu = options.tap ? "ip" : qemuBinary();
  const prefix = options.tap ? ["netns", "exec", options.tap.namespace, qemuBinary()] : [];
  const child = new Deno.Command(qemu, {
    args: [
      ...prefix,
      "-machine",
      `${options.machine},accel=${options.accel}`,
      "-cpu",
      options.accel === "kvm" ? KVM_CPU : TCG_CPU,
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-m",
      "128",
      "-kernel",
      kernel.path,
      "-initrd",
      initrd,
      "-append",
      `${pvm}${options.cmdline}`,
      "-serial",
      "stdio",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=4",
      ...network,
      ...options.nic,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return watchGuest(child, {
    stop: "SIGKILL",
    onEnd: () => Deno.remove(initrd).catch(() => {}),
  });
}

/**
 * Follows a spawned guest: its stdout as it comes (waitFor), its stderr appended once it ended.
 *
 * @param child the process, with stdout and stderr piped
 * @param options `stop`: the signal kill() sends (SIGTERM lets `osv run` stop QEMU and delete its taps);
 *   `onEnd`: cleanup once it ended
 * @returns the guest
 */
export function watchGuest(
  child: Deno.ChildProcess,
  options: { stop: Deno.Signal; onEnd?: () => Promise<void> },
): NetGuest {
  let text = "";
  const waiters: (() => void)[] = [];
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      waiters.splice(0).forEach((wake) => wake());
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = (async () => {
    const { code } = await child.status;
    await pump;
    text += await stderr;
    waiters.splice(0).forEach((wake) => wake());
    await options.onEnd?.();
    return code;
  })();
  let ended = false;
  status.then(() => ended = true);
  return {
    output: () => text,
    status,
    kill: () => {
      try {
        child.kill(options.stop);
      } catch {
        // Already gone.
      }
    },
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = text.match(pattern);
        if (match) return match;
        if (ended || Date.now() > deadline) {
          throw new Error(`${pattern} did not appear within ${timeoutMs} ms; console:\n${text}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** Runs `ip` with args; its output, or throws with its error. */
export async function ip(...args: string[]): Promise<string> {
  const r = await run("ip", args);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Runs fn with a network namespace of its own holding an up tap device `tap0` at 192.168.77.1/24 (a guest
 * attached to it can reach nothing outside the namespace); deletes the namespace afterwards. Root only.
 *
 * @param fn gets the namespace's name
 * @returns what fn returned
 */
export async function withTapNamespace<T>(fn: (namespace: string) => Promise<T>): Promise<T> {
  const ns = `osvtest-${crypto.randomUUID().slice(0, 8)}`;
  await ip("netns", "add", ns);
  try {
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap");
    await ip("-n", ns, "addr", "add", "192.168.77.1/24", "dev", "tap0");
    await ip("-n", ns, "link", "set", "tap0", "up");
    return await fn(ns);
  } finally {
    await ip("netns", "del", ns);
  }
}
