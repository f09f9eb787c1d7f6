/**
 * The `osv` command: `deno task osv`, `deno install -g -A -n osv main.ts` or `deno task compile`.
 *
 * @module
 */

import { main } from "./core/cli.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
