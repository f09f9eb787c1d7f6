/**
 * Minimal assertions (JSR's @std/assert is not reachable here; node:assert does the comparing).
 *
 * @module
 */

import { deepStrictEqual } from "node:assert";

/** Throws unless `condition` holds. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Substring check with a readable failure. */
export function assertStringIncludes(actual: string, expected: string): void {
  if (!actual.includes(expected)) throw new Error(`expected to find ${JSON.stringify(expected)} in:\n${actual}`);
}

/** The function throws (optionally an instance of `type`); returns the error. */
export function assertThrows<E extends Error = Error>(fn: () => unknown, type?: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    if (type && !(err instanceof type)) throw new Error(`expected ${type.name}, got ${String(err)}`);
    if (!(err instanceof Error)) throw new Error(`expected an Error, got ${String(err)}`);
    return err as E;
  }
  throw new Error("expected the function to throw");
}

/** The promise rejects (optionally with an instance of `type`); returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  type?: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    if (type && !(err instanceof type)) throw new Error(`expected ${type.name}, got ${String(err)}`);
    if (!(err instanceof Error)) throw new Error(`expected an Error, got ${String(err)}`);
    return err as E;
  }
  throw new Error("expected the promise to reject");
}
