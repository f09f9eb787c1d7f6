/**
 * What the host offers for running guests: whether /dev/kvm is usable, whether it is the software-nested
 * `kvm_pvm`, and the accelerator chosen from that.
 *
 * @module
 */

import type { Accel } from "./providers.ts";

/**
 * Accelerator used by default on a kvm_pvm host. kvm_pvm emulates guest kernel-mode code instruction by
 * instruction (design.md §5); whether that beats TCG for real workloads is decided by `deno task bench`.
 */
export const PVM_HOST_DEFAULT_ACCEL: Accel = "tcg";

/** Kernel option the toolchain adds when running with KVM on a kvm_pvm host. */
export const PVM_SAFE_OPTION = "--pvm-safe";

/** The host's KVM. */
export interface KvmStatus {
  /** /dev/kvm can be opened read-write. */
  usable: boolean;
  /** Why not, when not usable. */
  reason: string | null;
  /** The KVM is the software-nested kvm_pvm module. */
  pvm: boolean;
}

/**
 * Probes /dev/kvm and /sys/module/kvm_pvm.
 *
 * @returns the host's KVM status
 */
export function probeKvm(): KvmStatus {
  const device = Deno.env.get("OSV_KVM_DEVICE") ?? "/dev/kvm";
  const pvm = exists("/sys/module/kvm_pvm");
  try {
    Deno.openSync(device, { read: true, write: true }).close();
    return { usable: true, reason: null, pvm };
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? `${device} does not exist`
      : err instanceof Deno.errors.PermissionDenied
      ? `no permission to open ${device} (add yourself to the kvm group)`
      : `cannot open ${device} (${err instanceof Error ? err.message : String(err)})`;
    return { usable: false, reason, pvm };
  }
}

/**
 * Finds a program by path or in PATH (sync stats: this is on `osv run`'s start-up path).
 *
 * @param name a program name (looked up in PATH) or a path (containing `/`)
 * @returns the path of the executable file, or `null` when there is none
 */
export function findExecutable(name: string): string | null {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "").map((d) => `${d}/${name}`);
  for (const candidate of candidates) {
    try {
      const stat = Deno.statSync(candidate);
      if (stat.isFile && ((stat.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // Not there: try the next directory.
    }
  }
  return null;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The accelerator to use, and a one-line warning when falling back to TCG. */
export interface AccelChoice {
  accel: Accel;
  warning: string | null;
}

/**
 * Picks the accelerator: the requested one, else KVM when usable and hardware-backed, else TCG.
 *
 * @param requested `--accel`, if given
 * @param kvm the host's KVM status
 * @returns the choice
 * @throws Error when KVM was requested but is not usable
 */
export function chooseAccel(requested: Accel | undefined, kvm: KvmStatus): AccelChoice {
  if (requested === "kvm" && !kvm.usable) {
    throw new Error(`Cannot use KVM: ${kvm.reason ?? "not usable"}; try --accel tcg`);
  }
  if (requested !== undefined) return { accel: requested, warning: null };
  if (!kvm.usable) {
    return { accel: "tcg", warning: `osv: warning: KVM is not usable (${kvm.reason}); using TCG, which is slower` };
  }
  return { accel: kvm.pvm ? PVM_HOST_DEFAULT_ACCEL : "kvm", warning: null };
}

/**
 * Kernel options the run adds before the program path.
 *
 * @param options accelerator, host and `osv run` flags
 * @returns options in the order they go on the command line
 */
export function runKernelOptions(
  options: { accel: Accel; pvm: boolean; bootchart?: boolean; verbose?: boolean },
): string[] {
  const out: string[] = [];
  if (options.accel === "kvm" && options.pvm) out.push(PVM_SAFE_OPTION);
  if (options.bootchart) out.push("--bootchart");
  if (options.verbose) out.push("--verbose");
  return out;
}

/** The words of a kernel command line, split as the kernel splits them (POSIX shell quotes and backslashes). */
function* cmdlineWords(cmdline: string): Generator<{ start: number; word: string }> {
  let i = 0;
  for (;;) {
    while (i < cmdline.length && /\s/.test(cmdline[i]!)) i++;
    if (i === cmdline.length) return;
    const start = i;
    let word = "";
    let quote: string | null = null;
    for (; i < cmdline.length && (quote !== null || !/\s/.test(cmdline[i]!)); i++) {
      const c = cmdline[i]!;
      if (quote === null && (c === "'" || c === '"')) quote = c;
      else if (c === quote) quote = null;
      else if (c === "\\" && quote !== "'" && i + 1 < cmdline.length) word += cmdline[++i];
      else word += c;
    }
    yield { start, word };
  }
}

/**
 * Where the program path starts in a kernel command line: the offset of the first word that is not an
 * option (`--...`), words split as the kernel splits them (POSIX shell quotes and backslashes).
 *
 * @param cmdline the command line
 * @returns an offset into `cmdline` (its length when there is no program)
 */
export function programOffset(cmdline: string): number {
  for (const { start, word } of cmdlineWords(cmdline)) {
    if (!word.startsWith("--")) return start;
  }
  return cmdline.length;
}

/**
 * The kernel options of a command line (the words before the program path), unquoted.
 *
 * @param cmdline the command line
 * @returns the options, e.g. `["--env=A=1 2", "--ip=eth0,10.0.2.16,255.255.255.0"]`
 * @example
 * ```ts
 * import { kernelOptionWords } from "./host.ts";
 * const words = kernelOptionWords(`--env="A=1 2" --verbose /app --ip=x`);
 * if (words.join("|") !== "--env=A=1 2|--verbose") throw new Error();
 * ```
 */
export function kernelOptionWords(cmdline: string): string[] {
  const words: string[] = [];
  for (const { word } of cmdlineWords(cmdline)) {
    if (!word.startsWith("--")) break;
    words.push(word);
  }
  return words;
}

/**
 * Adds kernel options to a command line, after the options it has and before the program path, so that
 * they win where the kernel takes the last of an option (`--ip` for one interface, `--defaultgw`).
 *
 * @param options kernel options
 * @param cmdline the image's or `-e`'s command line
 * @returns the combined command line
 * @example
 * ```ts
 * import { withKernelOptions } from "./host.ts";
 * if (withKernelOptions(["--verbose"], "--env=A=1 /app x") !== "--env=A=1 --verbose /app x") throw new Error();
 * ```
 */
export function withKernelOptions(options: readonly string[], cmdline: string): string {
  const trimmed = cmdline.trim();
  const at = programOffset(trimmed);
  return [trimmed.slice(0, at).trim(), ...options, trimmed.slice(at)].filter((s) => s !== "").join(" ");
}
