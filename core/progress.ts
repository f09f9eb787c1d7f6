/**
 * Progress of slow steps (kernel compile, image writing) on a TTY's stderr; silent otherwise.
 *
 * @module
 */

/** Reports progress. */
export interface Progress {
  /** A new step starts. */
  step(label: string): void;
  /** More detail on the current step (replaces the previous detail). */
  update(detail: string): void;
  /** The current step finished. */
  done(summary?: string): void;
}

/** Progress that prints nothing (scripts, `--json`, tests). */
export const silentProgress: Progress = { step() {}, update() {}, done() {} };

/**
 * Progress on stderr, redrawing one line per step.
 *
 * @param write where the text goes (default: stderr)
 * @returns the progress reporter
 */
export function terminalProgress(write: (text: string) => void = writeStderr): Progress {
  let label = "";
  let lastDraw = 0;
  return {
    step(next) {
      label = next;
      write(`\r\x1b[K${label}...`);
    },
    update(detail) {
      const now = Date.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      write(`\r\x1b[K${label}... ${detail}`);
    },
    done(summary) {
      write(`\r\x1b[K${label}${summary ? `: ${summary}` : ""}\n`);
    },
  };
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/**
 * Terminal progress when stderr is a TTY and output is not JSON.
 *
 * @param json whether the command prints JSON
 * @returns a progress reporter
 */
export function defaultProgress(json: boolean): Progress {
  return !json && Deno.stderr.isTerminal() ? terminalProgress() : silentProgress;
}

/** Formats a byte count for humans (`1.5 MiB`). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
