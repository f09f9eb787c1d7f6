/**
 * Errors callers catch: user mistakes on the command line, and failures of a named plugin hook.
 *
 * Everything else is a plain `Error` (or `TypeError`/`RangeError` for bad arguments) with a message worded
 * `Cannot <do what> "<subject>": <why>`; the CLI prints it as `osv: error: <message>`.
 *
 * @module
 */

/** A mistake on the command line: printed with the usage, exit status 2. */
export class ValidationError extends Error {
  /** Process exit status the CLI uses for this error. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ValidationError";
    this.exitCode = options.exitCode ?? 2;
  }
}

/** A plugin hook or provider threw: the message names the plugin and the hook. */
export class PluginError extends Error {
  /** The plugin that failed, e.g. `fs:ramfs`. */
  readonly plugin: string;
  /** The hook or provider method that failed, e.g. `manifest` or `filesystem.write`. */
  readonly hook: string;

  constructor(plugin: string, hook: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`plugin "${plugin}" failed in ${hook}: ${why}`, { cause });
    this.name = "PluginError";
    this.plugin = plugin;
    this.hook = hook;
  }
}

/** The guest could not be run to completion (hypervisor error, KVM internal error, no exit status). */
export class RunError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RunError";
  }
}
