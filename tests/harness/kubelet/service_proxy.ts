/**
 * The emulated kube-proxy and cluster DNS. Each Service's ClusterIP is a
 * loopback address (the control plane's service CIDR is inside 127/8), so the
 * proxy listens on `clusterIP:port` itself and forwards each new connection
 * to one of the Service's ready endpoints, round robin; open connections stay
 * where they are, as with kube-proxy's conntrack. A connection between two
 * pods a partition separates (`partition.ts`: pods' connections to Services
 * arrive from their pod IPs) is held: no byte is forwarded either way until
 * the partition heals. Endpoints are computed from
 * the pods the way the EndpointSlice controller does (selector, `Ready`
 * condition, not terminating, named target ports), because the API server
 * rejects loopback addresses in EndpointSlices. "DNS" is a table of host
 * names (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
 * `<svc>.<ns>.svc.cluster.local`, and `<hostname>.<subdomain>...` for pods of
 * headless Services) that {@linkcode LocalPod} substitutes in env values.
 *
 * @module
 */
import type { V1Pod, V1Service, V1ServicePort } from "@kubernetes/client-node";

/** An address to forward to, and which pod it is (for logs). */
export interface Endpoint {
  hostname: string;
  port: number;
  pod: string;
}

function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && !!pod.status?.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

function selects(service: V1Service, pod: V1Pod): boolean {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return false;
  if (pod.metadata?.namespace !== service.metadata?.namespace) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function targetPort(port: V1ServicePort, pod: V1Pod): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const container of pod.spec?.containers ?? []) {
    const named = container.ports?.find((p) => p.name === target);
    if (named) return named.containerPort;
  }
  return undefined;
}

/** The ready endpoints of one port of a Service, among `pods`. */
export function endpointsOf(service: V1Service, port: V1ServicePort, pods: V1Pod[]): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const pod of pods) {
    if (!selects(service, pod) || !isReady(pod)) continue;
    const number = targetPort(port, pod);
    if (number === undefined) continue;
    endpoints.push({ hostname: pod.status!.podIP!, port: number, pod: pod.metadata!.name! });
  }
  return endpoints.sort((a, b) => a.pod.localeCompare(b.pod));
}

function fullNames(name: string, namespace: string): string[] {
  return [
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.cluster.local`,
  ];
}

/** The DNS table for pods in `namespace`: every Service's names and the pods of headless ones. */
export function hostTable(
  namespace: string,
  services: V1Service[],
  pods: V1Pod[],
): Record<string, string> {
  const table: Record<string, string> = {};
  const add = (name: string, ns: string, address: string) => {
    for (const full of fullNames(name, ns)) table[full] = address;
    if (ns === namespace) table[name] = address;
  };
  for (const service of services) {
    const name = service.metadata!.name!;
    const ns = service.metadata!.namespace!;
    const clusterIP = service.spec?.clusterIP;
    if (clusterIP && clusterIP !== "None") {
      add(name, ns, clusterIP);
      continue;
    }
    const ready = pods.filter((pod) => selects(service, pod) && isReady(pod));
    if (ready.length > 0) add(name, ns, ready[0].status!.podIP!);
    for (const pod of pods) {
      const hostname = pod.spec?.hostname;
      if (!hostname || pod.spec?.subdomain !== name || !pod.status?.podIP) continue;
      if (pod.metadata?.namespace !== ns) continue;
      add(`${hostname}.${name}`, ns, pod.status.podIP);
    }
  }
  return table;
}

interface Listening {
  listener: Deno.TcpListener;
  accepting: Promise<void>;
}

/** Open or shut; {@linkcode Gate.wait} passes once it is open. */
class Gate {
  #shut?: PromiseWithResolvers<void>;

  set(open: boolean): void {
    if (open) {
      this.#shut?.resolve();
      this.#shut = undefined;
    } else {
      this.#shut ??= Promise.withResolvers<void>();
    }
  }

  wait(): Promise<void> {
    return this.#shut?.promise ?? Promise.resolve();
  }
}

/** A forwarded connection: the client's address, the endpoint's, and whether bytes pass. */
interface Flow {
  client: string;
  endpoint: string;
  gate: Gate;
}

/**
 * Copies `from` to `to` while the gate lets it; at the end of `from` half-closes `to`, and
 * on an error drops both connections (`abort`).
 */
async function pump(from: Deno.TcpConn, to: Deno.TcpConn, gate: Gate, abort: () => void) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      await gate.wait();
      const read = await from.read(buffer);
      if (read === null) break;
      await gate.wait();
      for (let written = 0; written < read;) {
        written += await to.write(buffer.subarray(written, read));
      }
    }
    await to.closeWrite();
  } catch {
    abort();
  }
}

/** Listeners on ClusterIPs that forward to ready endpoints; see the module doc. */
export class ServiceProxy {
  #listening = new Map<string, Listening>();
  #connections = new Set<Promise<void>>();
  #open = new Set<Deno.TcpConn>();
  #next = new Map<string, number>();
  #shown = new Map<string, string>();
  #flows = new Set<Flow>();
  #endpoints: (address: string) => Endpoint[];
  #log: (line: string) => void;
  #separated: (client: string, endpoint: string) => boolean;

  /**
   * `endpoints` names the current ready endpoints of a `clusterIP:port`; `separated` tells
   * whether a partition separates a client address from an endpoint's.
   */
  constructor(
    endpoints: (address: string) => Endpoint[],
    log: (line: string) => void,
    separated: (client: string, endpoint: string) => boolean = () => false,
  ) {
    this.#endpoints = endpoints;
    this.#log = log;
    this.#separated = separated;
  }

  /** Holds or releases every connection by what `separated` says now. */
  refresh(): void {
    for (const flow of this.#flows) flow.gate.set(!this.#separated(flow.client, flow.endpoint));
  }

  /** Listens on exactly the TCP ports of these Services' ClusterIPs. */
  sync(services: V1Service[]): void {
    const wanted = new Map<string, { hostname: string; port: number; service: string }>();
    for (const service of services) {
      const clusterIP = service.spec?.clusterIP;
      if (!clusterIP || clusterIP === "None") continue;
      for (const port of service.spec?.ports ?? []) {
        if ((port.protocol ?? "TCP") !== "TCP") continue;
        const key = `${clusterIP}:${port.port}`;
        const name = `${service.metadata!.namespace}/${service.metadata!.name}`;
        wanted.set(key, { hostname: clusterIP, port: port.port, service: name });
      }
    }
    for (const [key, listening] of this.#listening) {
      if (wanted.has(key)) continue;
      listening.listener.close();
      this.#listening.delete(key);
      this.#shown.delete(key);
    }
    for (const [key, { hostname, port, service }] of wanted) {
      if (this.#listening.has(key)) continue;
      const listener = Deno.listen({ hostname, port });
      this.#listening.set(key, { listener, accepting: this.#accept(key, listener) });
      this.#log(`proxying service ${service} on ${key}`);
    }
    for (const key of this.#listening.keys()) this.#showEndpoints(key);
  }

  /** Logs a ClusterIP's endpoints when they change, so test output shows where traffic goes. */
  #showEndpoints(key: string): void {
    const shown =
      this.#endpoints(key).map((e) => `${e.hostname}:${e.port} (${e.pod})`).join(", ") ||
      "no ready endpoints";
    if (this.#shown.get(key) === shown) return;
    this.#shown.set(key, shown);
    this.#log(`${key} -> ${shown}`);
  }

  async #accept(key: string, listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        const forwarding = this.#forward(key, conn);
        this.#connections.add(forwarding);
        forwarding.finally(() => this.#connections.delete(forwarding));
      }
    } catch {
      // Closed by sync() or close().
    }
  }

  async #forward(key: string, conn: Deno.TcpConn): Promise<void> {
    const endpoints = this.#endpoints(key);
    if (endpoints.length === 0) {
      // kube-proxy rejects connections to a Service without ready endpoints.
      conn.close();
      return;
    }
    const index = (this.#next.get(key) ?? 0) % endpoints.length;
    this.#next.set(key, index + 1);
    const endpoint = endpoints[index];
    const client = (conn.remoteAddr as Deno.NetAddr).hostname;
    const flow: Flow = { client, endpoint: endpoint.hostname, gate: new Gate() };
    flow.gate.set(!this.#separated(client, endpoint.hostname));
    this.#flows.add(flow);
    this.#open.add(conn);
    try {
      // Held like the rest: a partitioned path does not even connect.
      await flow.gate.wait();
      let upstream: Deno.TcpConn;
      try {
        upstream = await Deno.connect({ hostname: endpoint.hostname, port: endpoint.port });
      } catch {
        return;
      }
      this.#open.add(upstream);
      const abort = () => {
        for (const c of [conn, upstream]) {
          try {
            c.close();
          } catch { /* closed already */ }
        }
      };
      await Promise.all([
        pump(conn, upstream, flow.gate, abort),
        pump(upstream, conn, flow.gate, abort),
      ]);
      abort();
      this.#open.delete(upstream);
    } finally {
      try {
        conn.close();
      } catch { /* closed already */ }
      this.#open.delete(conn);
      this.#flows.delete(flow);
    }
  }

  /** Closes the listeners and every forwarded connection. */
  async close(): Promise<void> {
    for (const { listener } of this.#listening.values()) listener.close();
    await Promise.all([...this.#listening.values()].map((l) => l.accepting));
    this.#listening.clear();
    for (const conn of this.#open) {
      try {
        conn.close();
      } catch { /* closed by its pipe already */ }
    }
    // Held connections go on to find theirs closed.
    for (const flow of this.#flows) flow.gate.set(true);
    await Promise.allSettled([...this.#connections]);
  }
}
