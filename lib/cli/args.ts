/**
 * Command-line parsing for `dbop` with `node:util` parseArgs: subcommands
 * `run` (default), `crds`, `render -f FILE`, `version`; every `run` flag has
 * an environment variable (`DBOP_` + the flag in upper snake case). Bad input
 * becomes a {@linkcode UsageError}: one line naming the flag and the accepted
 * values, exit code 2.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LOG_FORMATS, LOG_LEVELS } from "../runtime/logging.ts";
import { UsageError } from "./errors.ts";

/** Settings of `dbop run`. */
export interface RunOptions {
  kubeconfig?: string;
  context?: string;
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  maxConcurrentReconciles: number;
  /** How often every cluster is reconciled again without a change, in ms. */
  resyncPeriodMs: number;
  /** How often a settled cluster's instances are polled, in ms. */
  instanceStatusPeriodMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: (typeof LOG_FORMATS)[number];
  installCrds: boolean;
  /** Where the in-cluster token, CA and namespace files are. */
  serviceAccountDir?: string;
  /** dbop's image, which the instances copy the instance manager from; default this release's. */
  instanceImage?: string;
}

/** A parsed command line. */
export type Command =
  | { command: "run"; options: RunOptions }
  | { command: "crds" }
  | { command: "render"; file: string }
  | { command: "instance"; args: string[] }
  | {
    command: "promote";
    cluster: string;
    instance: string;
    namespace?: string;
    kubeconfig?: string;
    context?: string;
  }
  | { command: "version" }
  | { command: "help"; topic?: string };

const RUN_FLAGS = {
  "kubeconfig": {
    type: "string",
    help: "Path to a kubeconfig; default in-cluster, then KUBECONFIG, then ~/.kube/config",
  },
  "context": { type: "string", help: "Kubeconfig context to use instead of the current one" },
  "namespace": {
    type: "string",
    multiple: true,
    help: "Namespace to watch (repeatable); default all namespaces",
  },
  "leader-elect": {
    type: "boolean",
    help: "Elect a leader on a Lease so only one replica reconciles",
  },
  "leader-election-namespace": {
    type: "string",
    help: "Namespace of the Lease; default the pod's namespace",
  },
  "leader-election-id": { type: "string", help: "Name of the Lease (default dbop-leader)" },
  "metrics-bind-address": {
    type: "string",
    help: "Address of /metrics, host:port or :port, 0 disables (default :8080)",
  },
  "health-probe-bind-address": {
    type: "string",
    help: "Address of /healthz and /readyz, 0 disables (default :8081)",
  },
  "max-concurrent-reconciles": {
    type: "string",
    help: "Clusters reconciled in parallel (default 4)",
  },
  "resync-period": {
    type: "string",
    help: "How often every cluster is reconciled without a change, as 30s, 10m or 1h (default 10m)",
  },
  "instance-status-period": {
    type: "string",
    help: "How often the instances of a settled cluster are polled for status.instances, " +
      "as 30s, 10m or 1h (default 30s; while one changes, every 2s)",
  },
  "instance-image": {
    type: "string",
    help: "dbop's image, from which every PostgreSQL pod copies the instance manager " +
      "(default ghcr.io/dbop/dbop:<this version>)",
  },
  "log-level": { type: "string", help: `One of ${LOG_LEVELS.join(", ")} (default info)` },
  "log-format": {
    type: "string",
    help: `One of ${LOG_FORMATS.join(", ")} (default auto: json unless a terminal)`,
  },
  "install-crds": {
    type: "boolean",
    help: "Apply the embedded CRD at start (needs RBAC for CRDs)",
  },
  "service-account-dir": {
    type: "string",
    help: "Directory of the in-cluster token, ca.crt and namespace",
  },
} as const;

type RunFlag = keyof typeof RUN_FLAGS;

/** The environment variable of a flag, e.g. `--log-level` -> `DBOP_LOG_LEVEL`. */
export function envName(flag: string): string {
  return `DBOP_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** The help text of `dbop` or of one command. */
export function helpText(topic?: string): string {
  if (topic === "run") {
    const rows = Object.entries(RUN_FLAGS).map(([flag, spec]) =>
      `  --${flag}${spec.type === "string" ? " VALUE" : ""}\n      ${spec.help} [${envName(flag)}]`
    );
    return ["Usage: dbop run [flags]", "", "Runs the operator.", "", "Flags:", ...rows, ""].join(
      "\n",
    );
  }
  return [
    "Usage: dbop [command] [flags]",
    "",
    "dbop, the DatabaseCluster operator for PostgreSQL.",
    "",
    "Commands:",
    "  run                 run the operator (default; see dbop run --help)",
    "  crds                print the DatabaseCluster CRD",
    "  render -f FILE      print the objects dbop would apply for a DatabaseCluster manifest",
    "  instance run        run a PostgreSQL instance (PID 1 of each database pod)",
    "  promote CLUSTER INSTANCE [-n NAMESPACE] [--kubeconfig PATH] [--context NAME]",
    "                      switch the primary of a DatabaseCluster over to INSTANCE",
    "  version             print the version and the Kubernetes API version built against",
    "",
  ].join("\n");
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(
      `Invalid value "${value}" for --${flag}: expected one of ${
        allowed.map((a) => `"${a}"`).join(", ")
      }`,
    );
  }
  return value as T;
}

function parseBoolEnv(flag: string, value: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new UsageError(`Invalid value "${value}" for ${envName(flag)}: expected "true" or "false"`);
}

function parseRun(args: string[], env: (name: string) => string | undefined): RunOptions {
  const options = Object.fromEntries(
    Object.entries(RUN_FLAGS).map((
      [flag, spec],
    ) => [flag, { type: spec.type, ...("multiple" in spec ? { multiple: true } : {}) }]),
  ) as Record<RunFlag, { type: "string" | "boolean"; multiple?: boolean }>;
  const { values } = parseStrict(args, options);
  const str = (flag: RunFlag): string | undefined =>
    (values[flag] as string | undefined) ?? env(envName(flag));
  const bool = (flag: RunFlag): boolean => {
    if (values[flag] !== undefined) return values[flag] as boolean;
    const fromEnv = env(envName(flag));
    return fromEnv === undefined ? false : parseBoolEnv(flag, fromEnv);
  };
  const workersText = str("max-concurrent-reconciles") ?? "4";
  const workers = Number(workersText);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new UsageError(
      `Invalid value "${workersText}" for --max-concurrent-reconciles: expected a whole number from 1 to 256`,
    );
  }
  const duration = (flag: RunFlag, fallback: string): number => {
    const text = str(flag) ?? fallback;
    const match = text.match(/^(\d{1,6})(s|m|h)$/);
    if (!match || Number(match[1]) === 0) {
      throw new UsageError(
        `Invalid value "${text}" for --${flag}: expected a duration as "30s", "10m" or "1h"`,
      );
    }
    return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
  };
  const namespaces = (values.namespace as string[] | undefined) ??
    env(envName("namespace"))?.split(",").map((n) => n.trim()).filter(Boolean) ?? [];
  for (const address of ["metrics-bind-address", "health-probe-bind-address"] as const) {
    const value = str(address);
    if (
      value !== undefined && value !== "0" && !/^(\[[0-9a-f:]+\]|[^:\s]*):\d{1,5}$/i.test(value)
    ) {
      throw new UsageError(
        `Invalid value "${value}" for --${address}: expected "host:port", ":port" or "0"`,
      );
    }
  }
  return {
    kubeconfig: str("kubeconfig"),
    context: str("context"),
    namespaces,
    leaderElect: bool("leader-elect"),
    leaderElectionNamespace: str("leader-election-namespace"),
    leaderElectionId: str("leader-election-id") ?? "dbop-leader",
    metricsBindAddress: str("metrics-bind-address") ?? ":8080",
    healthProbeBindAddress: str("health-probe-bind-address") ?? ":8081",
    maxConcurrentReconciles: workers,
    resyncPeriodMs: duration("resync-period", "10m"),
    instanceStatusPeriodMs: duration("instance-status-period", "30s"),
    logLevel: oneOf("log-level", str("log-level") ?? "info", LOG_LEVELS),
    logFormat: oneOf("log-format", str("log-format") ?? "auto", LOG_FORMATS),
    installCrds: bool("install-crds"),
    serviceAccountDir: str("service-account-dir"),
    instanceImage: str("instance-image"),
  };
}

function parseStrict(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = message.match(/Unknown option '([^']+)'/);
    if (unknown) {
      throw new UsageError(
        `Unknown flag "${unknown[1]}": see "dbop --help" for the accepted flags`,
      );
    }
    const missing = message.match(/Option '([^']+)' argument missing/);
    if (missing) {
      throw new UsageError(
        `Flag "${missing[1].split(",")[0].replace(/^-\w, /, "")}" needs a value`,
      );
    }
    throw new UsageError(message.split("\n")[0]);
  }
}

/** Parses `args` (without the program name). */
export function parseCommandLine(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Command {
  const [first, ...rest] = args;
  if (first === "--help" || first === "-h" || first === "help") {
    return { command: "help", topic: rest[0] };
  }
  if (first === "--version" || first === "version") return { command: "version" };
  const commands = ["run", "crds", "render", "instance", "promote", "version"];
  const command = first === undefined || first.startsWith("-") ? "run" : first;
  const remaining = command === first ? rest : args;
  if (!commands.includes(command)) {
    throw new UsageError(
      `Unknown command "${command}": expected one of ${commands.map((c) => `"${c}"`).join(", ")}`,
    );
  }
  if (remaining.includes("--help") || remaining.includes("-h")) {
    return { command: "help", topic: command };
  }
  if (command === "instance") return { command: "instance", args: remaining };
  if (command === "crds") {
    parseStrict(remaining, {});
    return { command: "crds" };
  }
  if (command === "render") {
    const { values } = parseStrict(remaining, { file: { type: "string", short: "f" } });
    if (!values.file) {
      throw new UsageError(
        'Flag "--file" (-f) is required: the DatabaseCluster manifest to render',
      );
    }
    return { command: "render", file: values.file as string };
  }
  if (command === "promote") return parsePromote(remaining);
  return { command: "run", options: parseRun(remaining, env) };
}

function parsePromote(args: string[]): Command {
  const { values, positionals } = parseStrict(args, {
    namespace: { type: "string", short: "n" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
  });
  if (positionals.length !== 2) {
    throw new UsageError(
      "Usage: dbop promote CLUSTER INSTANCE: name the DatabaseCluster and the instance's pod",
    );
  }
  return {
    command: "promote",
    cluster: positionals[0],
    instance: positionals[1],
    namespace: values.namespace as string | undefined,
    kubeconfig: values.kubeconfig as string | undefined,
    context: values.context as string | undefined,
  };
}
