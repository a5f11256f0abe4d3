/**
 * Two managers with leader election on, each in its own process: only the
 * leader reconciles; SIGKILL the leader and the other takes over within the
 * lease duration; SIGTERM the leader and the other takes over at once because
 * the lease is released; a leader whose controller fails releases the lease and
 * exits non-zero. Prints the measured takeover times.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigMaps } from "../lib/databasecluster/kinds.ts";
import { createNamespace, eventually, resourcesFor, testCluster } from "./harness/mod.ts";

const cluster = testCluster();
const FIXTURE = new URL("./fixtures/elected_manager.ts", import.meta.url).pathname;
const LEASE_DURATION_MS = 6_000;

interface Line {
  event: string;
  identity: string;
  t: number;
  name?: string;
}

class Candidate {
  readonly lines: Line[] = [];
  readonly child: Deno.ChildProcess;
  readonly done: Promise<void>;
  constructor(readonly identity: string, ns: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        FIXTURE,
        "--kubeconfig",
        cluster.kubeconfigPath,
        "--namespace",
        ns,
        "--identity",
        identity,
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const stdout = this.child.stdout;
    this.done = (async () => {
      let buffer = "";
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          this.lines.push(JSON.parse(buffer.slice(0, nl)));
          buffer = buffer.slice(nl + 1);
        }
      }
    })();
  }
  leadingSince(): number | undefined {
    return this.lines.find((l) => l.event === "leading")?.t;
  }
  reconciled(name: string): boolean {
    return this.lines.some((l) => l.event === "reconciled" && l.name === name);
  }
  async stop(signal: Deno.Signal): Promise<number> {
    const at = Date.now();
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.done;
    return at;
  }
}

/** Waits for one of two candidates to lead. */
async function electedLeader(
  candidates: Candidate[],
): Promise<{ leader: Candidate; follower: Candidate }> {
  const leader = await eventually(
    "a leader",
    () => Promise.resolve(candidates.find((c) => c.leadingSince() !== undefined)),
    { timeoutMs: 60_000 },
  );
  return { leader, follower: candidates.find((c) => c !== leader)! };
}

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[leader takeover] ${line}\n`));
}

Deno.test({
  name: "only the elected manager reconciles, and a successor takes over after SIGKILL and SIGTERM",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ns = await createNamespace(cluster, "election");
    const resources = resourcesFor(cluster.kubeconfigPath);
    const candidates = [new Candidate("a", ns), new Candidate("b", ns)];
    try {
      const { leader, follower } = await electedLeader(candidates);
      await resources.create(ConfigMaps, { metadata: { name: "first", namespace: ns } });
      await eventually(
        "the leader to reconcile",
        () => Promise.resolve(leader.reconciled("first") || undefined),
      );
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(follower.reconciled("first"), false, "the follower does not reconcile");

      const killedAt = await leader.stop("SIGKILL");
      const takeover = await eventually(
        "the follower to lead",
        () => Promise.resolve(follower.leadingSince()),
        { timeoutMs: 30_000 },
      );
      report(
        `SIGKILL: follower leads ${
          takeover - killedAt
        } ms after the kill (lease ${LEASE_DURATION_MS} ms)`,
      );
      assert.ok(
        takeover - killedAt <= LEASE_DURATION_MS + 2_000,
        "takeover within the lease duration",
      );
      await eventually(
        "the new leader to reconcile",
        () => Promise.resolve(follower.reconciled("first") || undefined),
      );

      const third = new Candidate("c", ns);
      candidates.push(third);
      await eventually(
        "the third candidate to start",
        () => Promise.resolve(third.lines.some((l) => l.event === "ready") || undefined),
      );
      await new Promise((r) => setTimeout(r, 2_000));
      const termAt = await follower.stop("SIGTERM");
      assert.ok(follower.lines.some((l) => l.event === "exit"), "graceful exit");
      const handover = await eventually(
        "the third to lead",
        () => Promise.resolve(third.leadingSince()),
        {
          timeoutMs: 30_000,
        },
      );
      report(`SIGTERM: successor leads ${handover - termAt} ms after the signal (lease released)`);
      assert.ok(handover - termAt < 3_000, "a released lease is taken at once");
      await resources.create(ConfigMaps, { metadata: { name: "second", namespace: ns } });
      await eventually(
        "the third to reconcile",
        () => Promise.resolve(third.reconciled("second") || undefined),
      );
    } finally {
      for (const c of candidates) await c.stop("SIGKILL");
      resources.client.close();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});

Deno.test({
  name: "a leader whose controller fails releases the lease and exits non-zero",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ns = await createNamespace(cluster, "election-crash");
    const resources = resourcesFor(cluster.kubeconfigPath);
    const candidates = [new Candidate("a", ns), new Candidate("b", ns)];
    try {
      const { leader, follower } = await electedLeader(candidates);
      const crashName = `crash-${leader.identity}`;
      const createdAt = Date.now();
      await resources.create(ConfigMaps, { metadata: { name: crashName, namespace: ns } });
      const status = await leader.child.status;
      assert.equal(status.code, 1, "the leader exits non-zero");
      const exit = leader.lines.find((l) => l.event === "exit") as Line & { reason: string };
      assert.match(exit.reason, /controller crashed/);
      const takeover = await eventually(
        "the follower to lead",
        () => Promise.resolve(follower.leadingSince()),
        { timeoutMs: 30_000 },
      );
      report(
        `controller failure: the leader exited with code ${status.code}; follower leads ${
          takeover - createdAt
        } ms after the failing object was created (lease ${LEASE_DURATION_MS} ms)`,
      );
      assert.ok(takeover - createdAt < 3_000, "the lease was released, not left to expire");
      await eventually(
        "the new leader to reconcile",
        () => Promise.resolve(follower.reconciled(crashName) || undefined),
      );
    } finally {
      for (const c of candidates) await c.stop("SIGKILL");
      resources.client.close();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});
