/**
 * Measuring helpers for `deno task bench`: spawning and timing processes, repeating within a time budget,
 * reading the kernel's `--bootchart` output, turning `osv run --dry-run` into the QEMU floor command, and
 * bisecting the smallest guest memory. Each helper has one job; bench/main.ts composes them.
 *
 * @module
 */

/** How a spawned process ended, and how long it took (wall, from spawn to exit). */
export interface Spawned {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and times it. The child is killed (SIGKILL) after `timeoutMs`.
 *
 * @param command program
 * @param args arguments
 * @param timeoutMs kill after this long
 * @returns exit status, output and wall milliseconds
 */
export async function spawnTimed(command: string, args: readonly string[], timeoutMs = 120_000): Promise<Spawned> {
  const signal = AbortSignal.timeout(timeoutMs);
  const child = new Deno.Command(command, { args: [...args], stdin: "null", stdout: "piped", stderr: "piped", signal });
  const start = performance.now();
  const out = await child.output();
  const ms = performance.now() - start;
  const text = new TextDecoder();
  return { ms, code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A process run by {@linkcode spawnUntilOutput}: also when `marker` first appeared on its standard output. */
export interface SpawnedWithMark extends Spawned {
  /** Milliseconds from spawn until stdout first held the marker, or `null` when it never did. */
  markMs: number | null;
}

/**
 * Runs a command to completion, noting when its standard output first contains `marker` (the time to a
 * program's first print, without its shutdown). The child is killed (SIGKILL) after `timeoutMs`.
 *
 * @param command program
 * @param args arguments
 * @param marker text to wait for on stdout
 * @param timeoutMs kill after this long
 * @returns exit status, output, wall milliseconds and the marker's milliseconds
 */
export async function spawnUntilOutput(
  command: string,
  args: readonly string[],
  marker: string,
  timeoutMs = 120_000,
): Promise<SpawnedWithMark> {
  const signal = AbortSignal.timeout(timeoutMs);
  const start = performance.now();
  const child = new Deno.Command(command, { args: [...args], stdin: "null", stdout: "piped", stderr: "piped", signal })
    .spawn();
  let stdout = "";
  let markMs: number | null = null;
  const decoder = new TextDecoder();
  const [, stderr, status] = await Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        stdout += decoder.decode(chunk, { stream: true });
        if (markMs === null && stdout.includes(marker)) markMs = performance.now() - start;
      }
    })(),
    new Response(child.stderr).text(),
    child.status,
  ]);
  return { ms: performance.now() - start, code: status.code, stdout, stderr, markMs };
}

/** A measured value (median of `n` samples) or why it could not be measured. */
export type Cell = { value: number; n: number; samples?: number[] } | { error: string };

/**
 * The median of a non-empty list.
 *
 * @param values samples
 * @returns the median
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** How often to repeat a measurement. */
export interface Repeat {
  /** At most this many samples. */
  runs: number;
  /** Stop early once this much wall time was spent (after at least `minRuns` samples). */
  budgetMs: number;
  /** At least this many samples, whatever the budget (capped by `runs`). */
  minRuns: number;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Takes samples until `repeat.runs` or the time budget is reached; the first error ends the cell.
 *
 * @param sample one measurement, in its unit (throws with a readable message on failure)
 * @param repeat how often
 * @returns the median and the sample count, or the error text
 */
export async function measure(sample: () => Promise<number>, repeat: Repeat): Promise<Cell> {
  const samples: number[] = [];
  const start = performance.now();
  try {
    while (samples.length < repeat.runs) {
      samples.push(await sample());
      const spent = performance.now() - start;
      if (samples.length >= Math.min(repeat.minRuns, repeat.runs) && spent > repeat.budgetMs) break;
    }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  return { value: round2(median(samples)), n: samples.length, samples: samples.map(round2) };
}

/**
 * `x - y` for two measured cells: the median of the per-round differences when both hold the same number
 * of samples (taken in turn by {@linkcode measureInTurn}), else the difference of the medians.
 *
 * @param x minuend
 * @param y subtrahend
 * @returns the difference, with the smaller sample count
 */
export function pairedDifference(
  x: { value: number; n: number; samples?: number[] },
  y: { value: number; n: number; samples?: number[] },
): Cell {
  const n = Math.min(x.n, y.n);
  if (x.samples && y.samples && x.samples.length === y.samples.length && x.samples.length > 0) {
    return { value: round2(median(x.samples.map((v, i) => v - y.samples![i]!))), n };
  }
  return { value: round2(x.value - y.value), n };
}

/**
 * The absolute milliseconds of the last boot phase printed by the kernel's `--bootchart`
 * (lines like `  app loaded     15.69ms (+8.53ms)`).
 *
 * @param console the guest's console output
 * @returns milliseconds, or `null` when there is no phase line
 */
export function lastBootPhaseMs(console: string): number | null {
  let last: number | null = null;
  for (const line of console.split(/\r?\n/)) {
    const match = /^\s*\S.*?\s+(\d+(?:\.\d+)?)ms \(\+\d+(?:\.\d+)?ms\)\s*$/.exec(line);
    if (match) last = Number(match[1]);
  }
  return last;
}

/**
 * Splits one POSIX shell line into words (the quoting `osv run --dry-run` produces: bare words and
 * single quotes, with `'\''` for a quote).
 *
 * @param line the command line
 * @returns the words
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** osv's own QEMU argv, rewritten to run without osv: the QEMU floor, or the same VM started directly. */
export interface FloorCommand {
  command: string;
  args: string[];
  /** Temp directory `osv run --dry-run` left behind (to remove once the command is no longer needed). */
  dryRunDir: string | null;
}

/**
 * Rewrites osv's QEMU command to run without osv, its control channel going to `controlPath`. With a
 * stub kernel it is the floor: `-kernel` becomes the stub, `-initrd` is dropped and `-append` becomes a
 * short word. With `null` the VM is osv's own (QEMU started directly, as osv would start it).
 *
 * @param words the dry-run command, split into words
 * @param stubKernel path of the stub PVH kernel, or `null` to keep osv's kernel, initrd and command line
 * @param controlPath file for the COM2 control channel
 * @returns the command
 */
export function floorCommand(words: readonly string[], stubKernel: string | null, controlPath: string): FloorCommand {
  const [command, ...rest] = words;
  if (!command) throw new Error("empty dry-run command");
  const args: string[] = [];
  let dryRunDir: string | null = null;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const value = rest[i + 1] ?? "";
    if (stubKernel !== null && arg === "-kernel") {
      args.push(arg, stubKernel);
      i++;
    } else if (stubKernel !== null && arg === "-initrd") {
      i++;
    } else if (stubKernel !== null && arg === "-append") {
      args.push(arg, "floor");
      i++;
    } else if (arg === "-chardev" && value.includes("path=")) {
      // The dry run's work directory holds the control channel (and a ramfs initrd).
      const path = /path=([^,]*)/.exec(value)?.[1] ?? "";
      if (path.includes("/osv-run-")) dryRunDir = path.slice(0, path.lastIndexOf("/"));
      args.push(arg, value.replace(/path=[^,]*/, `path=${controlPath}`));
      i++;
    } else {
      args.push(arg);
    }
  }
  return { command, args, dryRunDir };
}

/**
 * Samples several measurements in turn (one of each per round, for `repeat.runs` rounds or until the time
 * budget is spent), so that a change in the machine's load during the run affects all of them alike and
 * their differences stay meaningful. A sampler's first error ends its cell; the others go on.
 *
 * @param samplers named measurements
 * @param repeat how often
 * @returns one cell per name
 */
export async function measureInTurn<K extends string>(
  samplers: Record<K, () => Promise<number>>,
  repeat: Repeat,
): Promise<Record<K, Cell>> {
  const names = Object.keys(samplers) as K[];
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  const errors = new Map<K, string>();
  const start = performance.now();
  for (let round = 0; round < repeat.runs; round++) {
    for (const name of names) {
      if (errors.has(name)) continue;
      try {
        samples.get(name)!.push(await samplers[name]());
      } catch (err) {
        errors.set(name, err instanceof Error ? err.message : String(err));
      }
    }
    if (round + 1 >= Math.min(repeat.minRuns, repeat.runs) && performance.now() - start > repeat.budgetMs) break;
  }
  const cells = {} as Record<K, Cell>;
  for (const name of names) {
    const taken = samples.get(name)!;
    const error = errors.get(name);
    cells[name] = error !== undefined
      ? { error }
      : { value: round2(median(taken)), n: taken.length, samples: taken.map(round2) };
  }
  return cells;
}

/**
 * The smallest value in `lo..hi` for which `ok` holds, assuming it holds from some point upward.
 *
 * @param lo smallest candidate
 * @param hi largest candidate (checked first)
 * @param ok the predicate
 * @returns the smallest passing value, or `null` when even `hi` fails
 */
export async function smallestPassing(lo: number, hi: number, ok: (n: number) => Promise<boolean>): Promise<
  number | null
> {
  if (!(await ok(hi))) return null;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await ok(mid)) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

/**
 * The last lines of a failed process's output, for an error cell.
 *
 * @param run the process
 * @returns one line
 */
export function failureText(run: Spawned): string {
  const tail = (run.stderr.trim() || run.stdout.trim()).split("\n").slice(-3).join(" | ");
  return `exit ${run.code}${tail ? `: ${tail}` : ""}`.slice(0, 300);
}
