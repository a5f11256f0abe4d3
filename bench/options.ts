/**
 * The benchmark's command line: `deno task bench [--n 1000] [--json] ...`.
 * Bad input is one line naming the flag, as dbop's own CLI does.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { BenchOptions } from "./context.ts";

/** A parsed command line. */
export interface BenchCommand {
  options: BenchOptions;
  /** Print the result as JSON on stdout instead of the table. */
  json: boolean;
  /** Directory to write `<date>-n<N>.json` and `.md` into. */
  out?: string;
  /** Keep the run directory (control plane data and logs, dbop logs). */
  keep: boolean;
  help: boolean;
}

/** The help text. */
export const HELP = `Usage: deno task bench [flags]

Starts its own local control plane, runs dbop as a separate process (as
\`deno task start\` does) and the floor client, prints a table of figures.

Flags:
  --n N                 clusters in the fleet (default 100)
  --workers N           dbop --max-concurrent-reconciles and floor workers (default 4)
  --samples N           single-change samples (default 100)
  --steady-seconds N    steady-state window (default 120)
  --resync-period D     dbop --resync-period for start-up and steady state (default 60s)
  --unrelated N         unrelated ConfigMaps and as many Secrets (default 1000)
  --kcm-qps N           kube-controller-manager --kube-api-qps (default 200)
  --skip-floor          do not run the floor (no ratio)
  --json                print the result as JSON instead of the table
  --out DIR             also write <date>-n<N>.json and .md into DIR
  --keep                keep the run directory (logs) instead of deleting it
`;

const FLAGS = {
  n: { type: "string" },
  workers: { type: "string" },
  samples: { type: "string" },
  "steady-seconds": { type: "string" },
  "resync-period": { type: "string" },
  unrelated: { type: "string" },
  "kcm-qps": { type: "string" },
  "skip-floor": { type: "boolean" },
  json: { type: "boolean" },
  out: { type: "string" },
  keep: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function whole(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`Invalid value "${value}" for --${flag}: expected a whole number from ${min}`);
  }
  return n;
}

/** Parses the arguments (without the program name). */
export function parseBenchArgs(args: string[]): BenchCommand {
  let values;
  try {
    values = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new Error(`${(error as Error).message.split("\n")[0]}: see "deno task bench --help"`);
  }
  const resyncPeriod = values["resync-period"] ?? "60s";
  if (!/^\d+(s|m|h)$/.test(resyncPeriod)) {
    throw new Error(
      `Invalid value "${resyncPeriod}" for --resync-period: expected a duration as "60s" or "2m"`,
    );
  }
  return {
    options: {
      n: whole("n", values.n, 100, 1),
      workers: whole("workers", values.workers, 4, 1),
      samples: whole("samples", values.samples, 100, 1),
      steadySeconds: whole("steady-seconds", values["steady-seconds"], 120, 1),
      resyncPeriod,
      unrelated: whole("unrelated", values.unrelated, 1000, 0),
      controllerManagerQps: whole("kcm-qps", values["kcm-qps"], 200, 1),
      skipFloor: values["skip-floor"] ?? false,
    },
    json: values.json ?? false,
    out: values.out,
    keep: values.keep ?? false,
    help: values.help ?? false,
  };
}
