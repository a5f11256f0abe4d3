/**
 * An independent sampler for fault tests: every `intervalMs` (a round) it
 * asks every instance of a cluster, directly on its pod IP and port 5432 as
 * the application owner of `<c>-app`, whether it is in recovery and whether a
 * write commits (a one-row upsert into a table of its own, with
 * `synchronous_commit = local` so that a waiting synchronous standby cannot
 * stall it, bounded by `statement_timeout` and by a client-side timeout for a
 * server that does not answer at all). The instances are every pod of the
 * cluster the API server has shown with an IP, kept after their pod object is
 * gone: a pod deleted from the API server may still run. An instance whose
 * probe of an earlier round is still waiting is recorded as busy, so that a
 * hung instance slows no round. {@linkcode writableAtOnce} finds the rounds
 * where two or more instances accepted a write; within a round the probes
 * run at once, and each answers within `timeoutMs` of the round's start.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { Pods } from "../../lib/databasecluster/kinds.ts";
import { appSecretName, instanceSelector } from "../../lib/databasecluster/names.ts";
import type { Resources } from "../../lib/kube/mod.ts";
import { type Clock, systemClock } from "../../lib/runtime/clock.ts";
import { Informer } from "../../lib/runtime/informer.ts";
import {
  type Client,
  close,
  connect,
  describe,
  isRejected,
  sqlState,
  withTimeout,
} from "./pg_client.ts";
import type { Connection } from "./psql.ts";

/** What one instance answered in one round. */
export interface InstanceSample {
  pod: string;
  uid: string;
  ip: string;
  /** `pg_is_in_recovery()`, when it answered. */
  inRecovery?: boolean;
  /** Whether the sampler's write committed. */
  writable: boolean;
  /** When it answered (or failed), on the sampler's clock. */
  answeredAt: number;
  error?: string;
}

/** One round: when it started and each instance's answer, by pod name. */
export interface SampleRound {
  round: number;
  at: number;
  instances: InstanceSample[];
}

/** The rounds in which two or more instances accepted a write. */
export function writableAtOnce(rounds: readonly SampleRound[]): SampleRound[] {
  return rounds.filter((round) => round.instances.filter((i) => i.writable).length >= 2);
}

/** Options of {@linkcode startSampler}. */
export interface SamplerOptions {
  /** Time between rounds' starts; default 200 ms. */
  intervalMs?: number;
  /** Bound of a connection attempt and of a probe; default 1000 ms. */
  timeoutMs?: number;
  /** The table it writes; default `dbop_sampler`. */
  table?: string;
  clock?: Clock;
}

/** Where the sampler finds the cluster: the API server, and the cluster's namespace. */
export interface SamplerTarget {
  resources: Resources;
  namespace: string;
  /** A Secret's data, decoded. */
  secret(name: string): Promise<Record<string, string>>;
}

interface Instance {
  pod: string;
  uid: string;
  ip: string;
  client?: Client;
  busy: boolean;
}

/** A running sampler; see the module doc. */
export class Sampler implements AsyncDisposable {
  #pods: Informer<V1Pod>;
  #instances = new Map<string, Instance>();
  #credentials: { user: string; password: string; dbname: string };
  #options: Required<Omit<SamplerOptions, "clock">>;
  #clock: Clock;
  #rounds: SampleRound[] = [];
  #inFlight = new Set<Promise<void>>();
  #abort = new AbortController();
  #watching?: Promise<void>;
  #running?: Promise<void>;

  constructor(
    target: SamplerTarget,
    cluster: string,
    credentials: { user: string; password: string; dbname: string },
    options: SamplerOptions = {},
  ) {
    this.#credentials = credentials;
    this.#clock = options.clock ?? systemClock;
    this.#options = {
      intervalMs: options.intervalMs ?? 200,
      timeoutMs: options.timeoutMs ?? 1000,
      table: options.table ?? "dbop_sampler",
    };
    const labelSelector = Object.entries(instanceSelector(cluster)).map(([k, v]) => `${k}=${v}`)
      .join(",");
    this.#pods = new Informer(target.resources, Pods, {
      namespace: target.namespace,
      labelSelector,
    });
    this.#pods.addHandler((event) => {
      if (event.type !== "deleted") this.#seen(event.object);
    });
  }

  /** Lists the pods, then samples until stopped. */
  async start(): Promise<void> {
    this.#watching = this.#pods.run(this.#abort.signal);
    await this.#pods.waitForSync();
    this.#running = this.#loop();
  }

  /** Every round so far; a round's instances are filled in once all have answered. */
  get rounds(): readonly SampleRound[] {
    return this.#rounds;
  }

  /** The rounds in which two or more instances accepted a write. */
  writableAtOnce(): SampleRound[] {
    return writableAtOnce(this.#rounds);
  }

  /** Stops sampling, waiting for the rounds in flight, and closes the connections. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    await Promise.all([...this.#inFlight]);
    await this.#watching;
    await Promise.all([...this.#instances.values()].map((i) => i.client && close(i.client)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #seen(pod: V1Pod): void {
    const uid = pod.metadata!.uid!;
    const ip = pod.status?.podIP;
    if (!ip || this.#instances.has(uid)) return;
    this.#instances.set(uid, { pod: pod.metadata!.name!, uid, ip, busy: false });
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const at = this.#clock.now();
      const round: SampleRound = { round: this.#rounds.length, at, instances: [] };
      this.#rounds.push(round);
      const probing = Promise.all([...this.#instances.values()].map((i) => this.#probe(i, round)))
        .then((samples) => {
          round.instances = samples.toSorted((a, b) => a.pod.localeCompare(b.pod));
        });
      this.#inFlight.add(probing);
      probing.finally(() => this.#inFlight.delete(probing));
      await this.#clock.sleep(at + this.#options.intervalMs - this.#clock.now(), signal);
    }
  }

  async #probe(instance: Instance, round: SampleRound): Promise<InstanceSample> {
    const { pod, uid, ip } = instance;
    const sample = (fields: Partial<InstanceSample>): InstanceSample => ({
      pod,
      uid,
      ip,
      writable: false,
      answeredAt: this.#clock.now(),
      ...fields,
    });
    if (instance.busy) return sample({ error: "busy: an earlier probe has not answered" });
    instance.busy = true;
    try {
      instance.client ??= connect(this.#connection(ip), {
        applicationName: "dbop-sampler",
        connectTimeoutMs: this.#options.timeoutMs,
        parameters: {
          synchronous_commit: "local",
          statement_timeout: String(this.#options.timeoutMs),
        },
      });
      return sample(
        await withTimeout(
          this.#ask(instance.client, pod, round),
          this.#options.timeoutMs,
          this.#clock,
        ),
      );
    } catch (error) {
      const client = instance.client;
      instance.client = undefined;
      if (client) await close(client);
      return sample({ error: describe(error) });
    } finally {
      instance.busy = false;
    }
  }

  #connection(ip: string): Connection {
    return { host: ip, port: 5432, sslmode: "disable", ...this.#credentials };
  }

  /** Recovery and a write's outcome; throws when the connection failed. */
  async #ask(client: Client, pod: string, round: SampleRound): Promise<Partial<InstanceSample>> {
    const [{ recovery }] = await client`SELECT pg_is_in_recovery() AS recovery`;
    const table = client(this.#options.table);
    const upsert = () =>
      client`INSERT INTO ${table} (pod, round, at) VALUES (${pod}, ${round.round}, clock_timestamp())
        ON CONFLICT (pod) DO UPDATE SET round = excluded.round, at = excluded.at`;
    try {
      try {
        await upsert();
      } catch (error) {
        if (sqlState(error) !== "42P01" || recovery) throw error;
        await client`CREATE TABLE IF NOT EXISTS ${table} (pod text PRIMARY KEY, round int, at timestamptz)`;
        await upsert();
      }
      return { inRecovery: recovery, writable: true };
    } catch (error) {
      if (!isRejected(error)) throw error;
      return { inRecovery: recovery, writable: false, error: describe(error) };
    }
  }
}

/**
 * Starts a {@linkcode Sampler} of `cluster`'s instances, as the application owner of
 * `<c>-app` (the superuser may not log in over the network).
 */
export async function startSampler(
  target: SamplerTarget,
  cluster: string,
  options: SamplerOptions = {},
): Promise<Sampler> {
  const secret = await target.secret(appSecretName(cluster));
  const sampler = new Sampler(target, cluster, {
    user: secret.username,
    password: secret.password,
    dbname: secret.dbname,
  }, options);
  await sampler.start();
  return sampler;
}
