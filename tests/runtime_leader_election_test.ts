/**
 * Leader election against the real control plane, with candidates in separate processes
 * (tests/fixtures/leader_elector.ts) so a leader can be SIGKILLed, SIGTERMed, or cut off from the API
 * server by a TCP proxy that stops forwarding. Prints the measured takeover times. Default timings:
 * 15 s lease, 10 s renew deadline, 2 s retry period.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";

const cluster = testCluster();
const FIXTURE = new URL("./fixtures/leader_elector.ts", import.meta.url).pathname;
const LEASE = "dbop-leader";
const LEASE_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[leader-election] ${line}\n`));
}

interface ElectorEvent {
  event: string;
  identity: string;
  t: number;
  holder?: string;
  reason?: string;
}

/** One candidate process and the events it printed. */
class Candidate {
  readonly identity: string;
  readonly events: ElectorEvent[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  constructor(identity: string, namespace: string, kubeconfig = cluster.kubeconfigPath) {
    this.identity = identity;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        FIXTURE,
        ...["--kubeconfig", kubeconfig, "--namespace", namespace],
        ...["--name", LEASE, "--identity", identity],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        this.events.push(JSON.parse(buffer.slice(0, newline)));
        buffer = buffer.slice(newline + 1);
      }
    }
  }

  find(event: string): ElectorEvent | undefined {
    return this.events.find((e) => e.event === event);
  }

  async waitFor(event: string, timeoutMs: number): Promise<ElectorEvent> {
    return await eventually(`"${event}" from ${this.identity}: ${this.#history()}`, () => {
      return Promise.resolve(this.find(event));
    }, { timeoutMs, intervalMs: 20 });
  }

  #history(): string {
    return JSON.stringify(this.events.map((e) => e.event));
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }

  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }
}

async function leaseHolder(namespace: string): Promise<string> {
  return await cluster.kubectlOk([
    "get",
    "lease",
    LEASE,
    "-n",
    namespace,
    "-o",
    "jsonpath={.spec.holderIdentity}",
  ]);
}

Deno.test("only one of two candidates leads; after SIGKILL the other takes over within the lease, after SIGTERM within about a retry period", async () => {
  const ns = await createNamespace(cluster, "le-takeover");
  const candidates = [new Candidate("alpha", ns), new Candidate("beta", ns)];
  try {
    const leader = await eventually("a leader", () => {
      const leading = candidates.filter((c) => c.find("started"));
      assert.ok(leading.length <= 1, "at most one candidate leads");
      return Promise.resolve(leading[0]);
    }, { timeoutMs: 30_000, intervalMs: 20 });
    const follower = candidates.find((c) => c !== leader)!;
    await follower.waitFor("new_leader", 10_000);
    // Several renew periods with both running: the follower must never start.
    await new Promise((resolve) => setTimeout(resolve, 3 * RETRY_MS));
    assert.equal(follower.find("started"), undefined, "the follower never leads alongside");
    assert.equal(await leaseHolder(ns), leader.identity);

    leader.kill("SIGKILL");
    const killedAt = Date.now();
    const took = await follower.waitFor("started", LEASE_MS + 10_000);
    const killTakeover = took.t - killedAt;
    report(`SIGKILL takeover: ${killTakeover} ms (lease ${LEASE_MS} ms)`);
    // The follower counts the lease from when it saw the last renew, polling every retry period.
    assert.ok(killTakeover <= LEASE_MS + RETRY_MS * 1.2 + 1000, `took ${killTakeover} ms`);
    assert.ok(killTakeover >= LEASE_MS - RETRY_MS - 1000, `too early: ${killTakeover} ms`);
    assert.equal(await leaseHolder(ns), follower.identity);

    const successor = new Candidate("gamma", ns);
    candidates.push(successor);
    await eventually("gamma to see beta or alpha lead", () => {
      const seen = successor.events.find((e) => e.event === "new_leader");
      return Promise.resolve(seen?.holder === follower.identity ? seen : undefined);
    }, { timeoutMs: 10_000 });
    follower.kill("SIGTERM");
    const termAt = Date.now();
    const next = await successor.waitFor("started", LEASE_MS);
    const termTakeover = next.t - termAt;
    report(`SIGTERM takeover (lease released): ${termTakeover} ms`);
    assert.ok(termTakeover <= RETRY_MS * 1.2 + 1500, `took ${termTakeover} ms`);
    const status = await follower.exited();
    assert.equal(status.code, 0);
    assert.equal(follower.find("exit")?.reason, "signal");
    assert.ok(follower.find("stopped"), "onStoppedLeading ran on SIGTERM");
  } finally {
    await Promise.all(candidates.map((c) => c.stop()));
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

/** A TCP proxy to the API server that can be partitioned: open connections drop, new ones hang. */
class PartitionableProxy {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #target: number;
  #partitioned = false;

  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        if (!this.#partitioned) this.#forward(conn);
      }
    } catch {
      // The listener was closed.
    }
  }

  async #forward(conn: Deno.Conn): Promise<void> {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    this.#conns.add(upstream);
    await Promise.allSettled([
      conn.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(conn.writable),
    ]);
  }

  partition(): void {
    this.#partitioned = true;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed by the pipe.
      }
    }
    this.#conns.clear();
  }

  close(): void {
    this.partition();
    this.#listener.close();
  }
}

Deno.test("a leader cut off from the API server stops leading before anyone else starts", async () => {
  const ns = await createNamespace(cluster, "le-partition");
  const kubeconfig = await Deno.readTextFile(cluster.kubeconfigPath);
  const server = kubeconfig.match(/server: https:\/\/127\.0\.0\.1:(\d+)/);
  assert.ok(server, "the test kubeconfig names a 127.0.0.1 server");
  const proxy = new PartitionableProxy(Number(server[1]));
  const dir = await Deno.makeTempDir({ prefix: "dbop-le-" });
  const proxied = `${dir}/proxied.kubeconfig`;
  await Deno.writeTextFile(
    proxied,
    kubeconfig.replace(server[0], `server: https://127.0.0.1:${proxy.port}`),
  );
  const isolated = new Candidate("isolated", ns, proxied);
  const candidates = [isolated];
  try {
    await isolated.waitFor("started", 30_000);
    const rival = new Candidate("rival", ns);
    candidates.push(rival);
    await rival.waitFor("new_leader", 10_000);
    // Let a renew or two pass so the cut falls at an arbitrary point of the renew cycle.
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS + 700));

    proxy.partition();
    const cutAt = Date.now();
    const stopped = await isolated.waitFor("stopped", RENEW_DEADLINE_MS + 5000);
    const started = await rival.waitFor("started", LEASE_MS + 10_000);
    const stopLatency = stopped.t - cutAt;
    const margin = started.t - stopped.t;
    report(
      `partitioned leader stopped ${stopLatency} ms after the cut; the rival started ${
        started.t - cutAt
      } ms after the cut, ${margin} ms after the old leader stopped`,
    );
    assert.ok(stopLatency <= RENEW_DEADLINE_MS + 300, `stopped after ${stopLatency} ms`);
    // The rival waits a full lease from its last sighting of a renew that began before the cut.
    assert.ok(margin >= LEASE_MS - RENEW_DEADLINE_MS - 500, `only ${margin} ms apart`);
    await isolated.exited();
    assert.equal(isolated.find("exit")?.reason, "lost");
  } finally {
    await Promise.all(candidates.map((c) => c.stop()));
    proxy.close();
    await Deno.remove(dir, { recursive: true });
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
