/**
 * Parsing of command-line quantities.
 *
 * @module
 */

const UNITS: Record<string, number> = { "": 1, m: 1, mb: 1, mib: 1, g: 1024, gb: 1024, gib: 1024 };

/**
 * Parses a memory size as `osv run -m` accepts it: `64`, `16M`, `1G` (plain numbers are MiB).
 *
 * @param text the value
 * @returns MiB
 * @throws RangeError when it is not a positive whole number of MiB
 * @example
 * ```ts
 * import { parseMemoryMiB } from "./units.ts";
 * if (parseMemoryMiB("1G") !== 1024) throw new Error();
 * ```
 */
export function parseMemoryMiB(text: string): number {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? UNITS[(match[2] ?? "").toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new RangeError(`"${text}" is not a memory size (examples: 64, 16M, 1G)`);
  }
  const mib = Number(match[1]) * factor;
  if (!Number.isSafeInteger(mib) || mib <= 0) throw new RangeError(`"${text}" is not a positive memory size`);
  return mib;
}

/**
 * Parses a positive integer (`-c`).
 *
 * @param text the value
 * @returns the number
 * @throws RangeError when it is not a positive integer
 */
export function parsePositiveInt(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || Number(text) <= 0) throw new RangeError(`"${text}" is not a positive integer`);
  return Number(text);
}
