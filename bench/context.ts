/**
 * What every scenario gets: the options of the run, the prepared control
 * plane, the request meter over its audit log, the CPU meter, a log line
 * writer and the directory for dbop's logs.
 *
 * @module
 */
import type { AuditLog } from "./audit.ts";
import type { BenchCluster } from "./cluster.ts";
import type { CpuMeter } from "./cpu.ts";
import type { RequestMeter } from "./requests.ts";

/** Options of a run (see `deno task bench --help`). */
export interface BenchOptions {
  /** Clusters in the fleet. */
  n: number;
  /** dbop's `--max-concurrent-reconciles`, and the floor client's workers. */
  workers: number;
  /** Single-change samples. */
  samples: number;
  /** Length of the steady-state window. */
  steadySeconds: number;
  /** dbop's `--resync-period` during start-up and steady state. */
  resyncPeriod: string;
  /** Unrelated ConfigMaps (and as many Secrets) created for the memory scenario. */
  unrelated: number;
  /** kube-controller-manager's `--kube-api-qps`. */
  controllerManagerQps: number;
  /** Skip the floor (quicker runs while tuning; no ratio then). */
  skipFloor: boolean;
}

/** Shared by the scenarios of one run. */
export interface BenchContext {
  options: BenchOptions;
  cluster: BenchCluster;
  audit: AuditLog;
  meter: RequestMeter;
  /** CPU time of the control-plane components, dbop and the benchmark. */
  cpu: CpuMeter;
  /** Directory for dbop's logs. */
  runDir: string;
  log: (line: string) => void;
  /** Longest wait for a fleet-wide condition. */
  timeoutMs: number;
}
