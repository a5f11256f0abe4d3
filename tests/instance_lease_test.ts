/**
 * The primary Lease (`lib/instance/lease.ts`) against the real API server,
 * authenticated as the instance managers' ServiceAccount with the Role dbop
 * builds for them (`buildInstanceRbac`), with a 2 s duration: two contenders
 * on clocks twenty minutes apart (so comparing the record's renewTime with a
 * local clock would let the second take over at once), a release that hands
 * over at once, and a holder cut off the API server (its connection refused,
 * then partitioned) that reports the loss by its own clock before the taker
 * gets the Lease. A sampler checks throughout that the two are never both
 * `held()`. The Lease is owned by its DatabaseCluster and goes with it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseDatabaseCluster } from "../lib/api/mod.ts";
import { primaryLeaseName } from "../lib/databasecluster/names.ts";
import { buildInstanceRbac } from "../lib/databasecluster/specs/instance_rbac.ts";
import { INSTANCE_FIELD_MANAGER } from "../lib/instance/cluster.ts";
import { type LeaseLoss, PrimaryLease } from "../lib/instance/lease.ts";
import {
  ForbiddenError,
  KubeClient,
  loadInCluster,
  Resources,
  resourceType,
} from "../lib/kube/mod.ts";
import { type Clock, sleepWith } from "../lib/runtime/clock.ts";
import { ensureCrd, getJson } from "./harness/clusters.ts";
import { apiServer } from "./harness/instances.ts";
import { createNamespace, eventually, type TestCluster, testCluster } from "./harness/mod.ts";
import { TcpProxy } from "./harness/tcp_proxy.ts";

const [D, R, M] = [2_000, 250, 500];
const CLUSTER = "pg";
const LEASE = primaryLeaseName(CLUSTER);
const Leases = resourceType("coordination.k8s.io", "v1", "Lease");

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[instance-lease] ${line}\n`));
}

/** The system clock shifted by `offsetMs`: each lease measures only its own intervals. */
function skewedClock(offsetMs: number): Clock {
  const clock: Clock = {
    now: () => Date.now() + offsetMs,
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
    clearTimeout: (id) => clearTimeout(id),
    sleep: (ms, signal) => sleepWith(clock, ms, signal),
  };
  return clock;
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One instance's view: its pod name, clock offset and client (through a proxy or not). */
interface Contender {
  pod: string;
  offsetMs: number;
  lease: PrimaryLease;
  losses: LeaseLoss[];
  resources: Resources;
  /** The last sighting of another holder's record before it acquired, on its clock. */
  lastOtherSighting?: number;
}

/** The instance ServiceAccount's credentials, reaching the API server at `port`. */
class InstanceIdentity {
  readonly dir: string;
  readonly host: string;
  readonly port: string;
  #clients: KubeClient[] = [];

  constructor(dir: string, server: { host: string; port: string }) {
    this.dir = dir;
    this.host = server.host;
    this.port = server.port;
  }

  static async create(test: TestCluster, namespace: string): Promise<InstanceIdentity> {
    const dir = await Deno.makeTempDir({ prefix: "dbop-lease-sa-" });
    const server = apiServer(test.kubeconfigPath);
    const token = await test.kubectlOk([
      "create",
      "token",
      `${CLUSTER}-instance`,
      "-n",
      namespace,
      "--duration=1h",
    ]);
    await Deno.writeTextFile(`${dir}/token`, token.trim());
    await Deno.writeTextFile(`${dir}/ca.crt`, server.ca);
    await Deno.writeTextFile(`${dir}/namespace`, namespace);
    return new InstanceIdentity(dir, server);
  }

  /** A client as the instance manager builds it (`loadInCluster`), to `port` of the host. */
  resources(port = this.port): Resources {
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: this.host,
      KUBERNETES_SERVICE_PORT: port,
    };
    const credentials = loadInCluster({ serviceAccountDir: this.dir, env: (n) => env[n] });
    const client = new KubeClient(credentials, { userAgent: "dbop-instance" });
    this.#clients.push(client);
    return new Resources(client, { fieldManager: INSTANCE_FIELD_MANAGER });
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "the primary Lease: one holder at a time, taken over only after a full duration, released at once, lost by the local clock when cut off",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const test = testCluster();
    await ensureCrd(test);
    const namespace = await createNamespace(test, "lease");
    const manifest = {
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name: CLUSTER, namespace },
      spec: { replicas: 2, version: "15", storage: { size: "1Gi" } },
    };
    await test.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) });
    const live = await getJson(test, ["get", "dbc", CLUSTER, "-n", namespace]);
    const cluster = parseDatabaseCluster(live);
    for (const object of buildInstanceRbac(cluster)) {
      await test.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(object) });
    }
    const identity = await InstanceIdentity.create(test, namespace);
    const owner = {
      apiVersion: live.apiVersion,
      kind: live.kind,
      name: CLUSTER,
      uid: live.metadata.uid,
    };
    const stops: AbortController[] = [];
    const contender = (pod: string, offsetMs: number, resources = identity.resources()) => {
      const losses: LeaseLoss[] = [];
      const lease = new PrimaryLease(resources, {
        namespace,
        name: LEASE,
        holder: pod,
        owner,
        durationMs: D,
        renewEveryMs: R,
        marginMs: M,
        clock: skewedClock(offsetMs),
        onLost: (loss) => losses.push(loss),
      });
      return { pod, offsetMs, lease, losses, resources } as Contender;
    };
    /** Starts acquiring; resolves with the test-clock time it acquired at. */
    const acquire = (c: Contender, stop: AbortController) => {
      stops.push(stop);
      return c.lease.acquire(stop.signal).then(() => Date.now());
    };

    // Every 5 ms: never two holders; and each contender's last sighting of another holder.
    const contenders: Contender[] = [];
    const violations: string[] = [];
    const heldSamples = new Map<string, number>();
    let samples = 0;
    const sampler = setInterval(() => {
      samples++;
      const holding = contenders.filter((c) => c.lease.held());
      if (holding.length > 1) {
        violations.push(`${holding.map((c) => c.pod).join(" and ")} at ${Date.now()}`);
      }
      for (const c of contenders) {
        const seen = c.lease.observed();
        if (!c.lease.held() && seen && seen.holder !== c.pod && seen.holder !== "") {
          c.lastOtherSighting = seen.observedAt;
        }
      }
      for (const c of holding) heldSamples.set(c.pod, (heldSamples.get(c.pod) ?? 0) + 1);
    }, 5);

    try {
      // RBAC reaches the authorizer asynchronously: a 404 (not a 403) says the Role is in force.
      const probe = identity.resources();
      await eventually("the instance Role in force", async () => {
        await probe.getOrUndefined(Leases, LEASE, { namespace });
        return true;
      });
      await assert.rejects(
        probe.getOrUndefined(Leases, "other-primary", { namespace }),
        ForbiddenError,
        "the Role names only its own cluster's Lease",
      );

      const a = contender("pg-0", -600_000);
      const b = contender("pg-1", +600_000);
      contenders.push(a, b);
      await t.step(
        "the first acquires at once; the second only a full duration after the first stops",
        async () => {
          const started = Date.now();
          const aStop = new AbortController();
          await within(acquire(a, aStop), 30_000, "pg-0 to acquire");
          const createdMs = Date.now() - started;
          report(`pg-0 created and holds the Lease ${createdMs} ms after asking`);
          assert.ok(a.lease.held());
          assert.ok(createdMs < D, "at once: an absent Lease is created without waiting");
          const created = await getJson(test, ["get", "lease", LEASE, "-n", namespace]);
          assert.equal(created.spec.holderIdentity, "pg-0");
          assert.equal(created.spec.leaseDurationSeconds, 2);
          assert.deepEqual(created.metadata.ownerReferences, [owner]);

          let bAt: number | undefined;
          const bAcquired = acquire(b, new AbortController()).then((at) => (bAt = at));
          await new Promise((r) => setTimeout(r, 3 * D));
          assert.equal(bAt, undefined, "pg-1 waits while pg-0 renews");
          assert.ok(a.lease.held(), "pg-0 still holds");
          const renewed = await getJson(test, ["get", "lease", LEASE, "-n", namespace]);
          assert.notEqual(renewed.metadata.resourceVersion, created.metadata.resourceVersion);

          aStop.abort();
          const stoppedAt = Date.now();
          assert.equal(a.lease.held(), false);
          assert.equal(a.losses.at(-1)?.reason, "stopped");
          const aLastRenew = a.lease.renewedAt()! - a.offsetMs;
          await within(bAcquired, 30_000, "pg-1 to take over");
          const bLastSighting = b.lastOtherSighting! - b.offsetMs;
          report(
            `pg-1 took over ${bAt! - aLastRenew} ms after pg-0's last renew was sent, ` +
              `${bAt! - bLastSighting} ms after it last saw the record change, ` +
              `${bAt! - stoppedAt} ms after pg-0 stopped renewing`,
          );
          assert.ok(bAt! - bLastSighting >= D, "not before a full duration since the last change");
          assert.ok(bAt! - aLastRenew >= D, "nor a full duration since pg-0's last renew");
          assert.ok(b.lease.held());
        },
      );

      await t.step("release() hands the Lease over at once", async () => {
        const a2 = contender("pg-0", -600_000);
        contenders.push(a2);
        let aAt: number | undefined;
        const aAcquired = acquire(a2, new AbortController()).then((at) => (aAt = at));
        await new Promise((r) => setTimeout(r, D));
        assert.equal(aAt, undefined, "pg-0 waits while pg-1 renews");
        const releasedAt = Date.now();
        const releasing = b.lease.release();
        assert.equal(b.lease.held(), false, "not held from the moment release() is called");
        assert.equal(await releasing, true);
        assert.equal(b.losses.at(-1)?.reason, "released");
        await within(aAcquired, 30_000, "pg-0 to take the released Lease");
        report(`pg-0 took the released Lease ${aAt! - releasedAt} ms after release() was called`);
        assert.ok(aAt! - releasedAt < D, "well before the duration a takeover waits");
        assert.equal(await a2.lease.release(), true);
      });

      for (const cut of ["refused", "partitioned"] as const) {
        await t.step(
          `a holder whose API server is ${cut} reports lost by its own clock, before the taker acquires`,
          async () => {
            const proxy = TcpProxy.start({ hostname: identity.host, port: Number(identity.port) });
            try {
              const p = contender("pg-0", -600_000, identity.resources(String(proxy.port)));
              const q = contender("pg-1", +600_000);
              contenders.push(p, q);
              await within(acquire(p, new AbortController()), 30_000, "pg-0 to acquire");
              const lost = p.lease.lost();
              let qAt: number | undefined;
              const qAcquired = acquire(q, new AbortController()).then((at) => (qAt = at));
              await new Promise((r) => setTimeout(r, D));
              assert.ok(p.lease.held(), "pg-0 renews through the proxy");
              const cutAt = Date.now();
              if (cut === "refused") await proxy.close();
              else proxy.partition();
              const loss = await within(lost, 30_000, "pg-0 to report the loss");
              const lostAt = loss.at - p.offsetMs;
              assert.equal(loss.reason, "expired");
              assert.equal(
                p.losses.at(-1),
                loss,
                "the callback and the promise tell the same loss",
              );
              assert.equal(p.lease.held(), false);
              assert.equal(loss.deadline, loss.renewedAt + D - M);
              const late = loss.at - loss.deadline;
              await within(qAcquired, 30_000, "pg-1 to take over");
              report(
                `${cut}: pg-0 reported lost ${
                  loss.at - loss.renewedAt
                } ms after its last renew was sent ` +
                  `(deadline ${D - M} ms, timer ${late} ms late, ${
                    lostAt - cutAt
                  } ms after the cut); ` +
                  `pg-1 acquired ${qAt! - lostAt} ms after that`,
              );
              // Later than M and a taker could hold before the loser is told.
              assert.ok(late >= 0 && late < M, `the deadline timer fired ${late} ms late`);
              assert.ok(qAt! > lostAt, "the taker acquires only after the loser reported lost");
              assert.ok(qAt! - (loss.renewedAt - p.offsetMs) >= D);
              assert.equal(await q.lease.release(), true);
            } finally {
              await proxy.close();
            }
          },
        );
      }

      await t.step(
        "the Lease goes with its DatabaseCluster (owner reference, garbage collection)",
        async () => {
          await test.kubectlOk(["delete", "dbc", CLUSTER, "-n", namespace, "--wait=true"]);
          await eventually(
            "the Lease garbage-collected",
            async () =>
              (await test.kubectl(["get", "lease", LEASE, "-n", namespace])).code !== 0 ||
              undefined,
            { timeoutMs: 90_000 },
          );
        },
      );

      report(
        `sampled ${samples} times every 5 ms: held by ${
          [...heldSamples].map(([pod, n]) => `${pod} in ${n}`).join(", ")
        }; both at once in ${violations.length}`,
      );
      assert.deepEqual(violations, [], "never two holders at once");
      assert.ok((heldSamples.get("pg-0") ?? 0) > 100 && (heldSamples.get("pg-1") ?? 0) > 100);
    } finally {
      clearInterval(sampler);
      for (const stop of stops) stop.abort();
      await identity.close();
      await test.kubectl(["delete", "namespace", namespace, "--wait=false"]);
    }
  },
});
