/**
 * Network partitions of single pods, for fault tests. Every pod's
 * connections leave from 127.0.0.1, so no address tells pods apart; their
 * cgroups do: each pod the kubelet runs gets a cgroup v2 of its own, which
 * all its processes join before they start (`JOIN_CGROUP` in
 * `postgres.ts`), and an nftables table of this kubelet matches sockets by
 * cgroup (`socket cgroupv2`) on the output hook. It does two things:
 *
 * - Always: a pod's connections to the service CIDR are marked with the
 *   pod's mark and source-NATed to its pod IP, so the emulated kube-proxy
 *   sees which pod a client is (`service_proxy.ts` then stops forwarding
 *   between a cut pod and its peers, in both directions, open connections
 *   included, and holds new ones: what a dropped path looks like to both
 *   ends).
 * - For each cut pod: its packets to the API server and to its peers' pod
 *   IPs are dropped, and so are its peers' packets to its IP.
 *
 * Everything outside the pods (the test process: writers, samplers, the
 * operator, the kubelet's probes) still reaches the cut pod, directly and
 * through Services. Needs root, a cgroup v2 hierarchy and `nft`
 * (`apt-get install nftables`); in a hybrid cgroup layout (v2 at
 * `/sys/fs/cgroup/unified`) nft, which resolves cgroup paths under
 * `/sys/fs/cgroup`, runs in a mount namespace of its own where cgroup2 is
 * mounted there. The kernel refuses `socket` matches on the postrouting
 * hook, hence the mark set on output.
 *
 * @module
 */

/** A pod as the rules see it. */
export interface PartitionedPod {
  /** Its cgroup, relative to the cgroup v2 root (`dbop-kubelet-42/1a2b3c4d`). */
  cgroup: string;
  ip: string;
  /** Marks its connections to Services; unique among every kubelet's pods. */
  mark: number;
  namespace: string;
  cut: boolean;
}

/** What the ruleset is made from. */
export interface RulesetInput {
  table: string;
  apiServer: { ip: string; port: number };
  serviceCidr: string;
  pods: readonly PartitionedPod[];
}

function level(cgroup: string): number {
  return cgroup.split("/").length;
}

function socketOf(pod: PartitionedPod): string {
  return `socket cgroupv2 level ${level(pod.cgroup)} "${pod.cgroup}"`;
}

/** The pods a cut pod is separated from: the other pods of its namespace. */
export function peersOf(pod: PartitionedPod, pods: readonly PartitionedPod[]): PartitionedPod[] {
  return pods.filter((p) => p !== pod && p.namespace === pod.namespace);
}

/**
 * The nftables script that replaces the table atomically (one transaction): created if
 * missing, deleted, then defined from `input`.
 */
export function partitionRuleset(input: RulesetInput): string {
  const { table, apiServer, serviceCidr, pods } = input;
  const output: string[] = [];
  const postrouting: string[] = [];
  for (const pod of pods) {
    output.push(`${socketOf(pod)} ip daddr ${serviceCidr} meta mark set ${pod.mark}`);
    postrouting.push(`meta mark ${pod.mark} ip daddr ${serviceCidr} snat ip to ${pod.ip}`);
  }
  for (const pod of pods.filter((p) => p.cut)) {
    output.push(`${socketOf(pod)} ip daddr ${apiServer.ip} tcp dport ${apiServer.port} drop`);
    for (const peer of peersOf(pod, pods)) {
      output.push(`${socketOf(pod)} ip daddr ${peer.ip} drop`);
      output.push(`${socketOf(peer)} ip daddr ${pod.ip} drop`);
    }
  }
  const chain = (
    name: string,
    hook: string,
    rules: string[],
  ) => [`  chain ${name} {`, `    ${hook}`, ...rules.map((rule) => `    ${rule}`), "  }"];
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...chain("output", "type filter hook output priority filter; policy accept;", output),
    ...chain(
      "postrouting",
      "type nat hook postrouting priority srcnat; policy accept;",
      postrouting,
    ),
    "}",
    "",
  ].join("\n");
}

/** Whether a cut separates the pods with these IPs (either may be cut). */
export function separates(pods: readonly PartitionedPod[], a: string, b: string): boolean {
  const first = pods.find((p) => p.ip === a);
  const second = pods.find((p) => p.ip === b);
  if (!first || !second || first === second || first.namespace !== second.namespace) return false;
  return first.cut || second.cut;
}

/** The mount point of the cgroup v2 hierarchy, from `/proc/self/mountinfo`, if there is one. */
export async function cgroup2Mount(): Promise<string | undefined> {
  const mountinfo = await Deno.readTextFile("/proc/self/mountinfo").catch(() => "");
  for (const line of mountinfo.split("\n")) {
    // Fields: id, parent, major:minor, root, mount point, options, optional..., "-", type, ...
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] === "cgroup2") return before.split(" ")[4];
  }
  return undefined;
}

/** Where Debian's nftables puts `nft` (root's PATH has it, others' may not). */
async function nftPath(): Promise<string | undefined> {
  for (const path of ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]) {
    if (await Deno.stat(path).then(() => true, () => false)) return path;
  }
  return undefined;
}

/** The pods' cgroups and the nftables table of one kubelet; see the module doc. */
export class Partitions {
  readonly #mount: string;
  readonly #nftPath: string;
  /** Relative to the cgroup v2 root. */
  readonly #root: string;
  readonly #table: string;
  readonly #apiServer: { ip: string; port: number };
  readonly #serviceCidr: string;
  #pods = new Map<string, PartitionedPod>();
  #nextMark = 1;
  #applying: Promise<void> = Promise.resolve();
  #removals = new Set<Promise<void>>();

  private constructor(
    mount: string,
    nft: string,
    apiServer: { ip: string; port: number },
    serviceCidr: string,
  ) {
    this.#mount = mount;
    this.#nftPath = nft;
    this.#root = `dbop-kubelet-${Deno.pid}`;
    this.#table = `dbop_kubelet_${Deno.pid}`;
    this.#apiServer = apiServer;
    this.#serviceCidr = serviceCidr;
  }

  /** Why partitions cannot work here, or undefined when they can. */
  static async unsupported(): Promise<string | undefined> {
    if (Deno.uid() !== 0) return "they need root";
    if (!await cgroup2Mount()) return "no cgroup v2 hierarchy is mounted";
    if (!await nftPath()) {
      return 'no "nft": install it with "apt-get install -y --no-install-recommends nftables"';
    }
    return undefined;
  }

  /**
   * Sets up the cgroup root and the table, once nft has accepted rules of every kind used,
   * and removes what killed test processes left; returns why not when they cannot work.
   */
  static async create(
    apiServer: { ip: string; port: number },
    serviceCidr: string,
  ): Promise<Partitions | string> {
    const reason = await Partitions.unsupported();
    if (reason) return reason;
    const partitions = new Partitions(
      (await cgroup2Mount())!,
      (await nftPath())!,
      apiServer,
      serviceCidr,
    );
    await partitions.#removeStale();
    const root = `${partitions.#mount}/${partitions.#root}`;
    await Deno.mkdir(root, { recursive: true });
    // A cut "pod" whose cgroup (the empty root) no process is in: every kind of rule, no effect.
    const probe = { cgroup: partitions.#root, ip: "127.0.0.1", mark: partitions.#mark(0) };
    try {
      await partitions.#nft(partitions.#ruleset([{ ...probe, namespace: "", cut: true }]));
      await partitions.#apply();
    } catch (error) {
      await Deno.remove(root).catch(() => {});
      return `nftables refuses the rules: ${error instanceof Error ? error.message : error}`;
    }
    return partitions;
  }

  /** The tables and cgroups of kubelets whose processes are gone (killed test runs). */
  async #removeStale(): Promise<void> {
    const dead = async (pid: string) =>
      !await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
    const tables = await new Deno.Command(this.#nftPath, { args: ["list", "tables"] }).output();
    for (
      const [, pid] of new TextDecoder().decode(tables.stdout).matchAll(/inet dbop_kubelet_(\d+)/g)
    ) {
      if (await dead(pid)) {
        await this.#nft(`delete table inet dbop_kubelet_${pid}\n`).catch(() => {});
      }
    }
    for await (const entry of Deno.readDir(this.#mount)) {
      const pid = entry.name.match(/^dbop-kubelet-(\d+)$/)?.[1];
      if (!pid || !await dead(pid)) continue;
      const dir = `${this.#mount}/${entry.name}`;
      for await (const pod of Deno.readDir(dir)) {
        if (pod.isDirectory) await Deno.remove(`${dir}/${pod.name}`).catch(() => {});
      }
      await Deno.remove(dir).catch(() => {});
    }
  }

  /** A mark whose upper bits are this process's id, so that no two kubelets' marks meet. */
  #mark(n: number): number {
    return ((Deno.pid & 0x3fffff) << 10 | (n & 0x3ff)) >>> 0;
  }

  /** Creates the cgroup of pod `uid` and returns its directory. */
  async cgroupDir(uid: string): Promise<string> {
    const dir = `${this.#mount}/${this.#root}/${uid.slice(0, 8)}`;
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }

  /** Marks the pod's connections to Services with its IP, from now on. */
  async add(uid: string, namespace: string, ip: string): Promise<void> {
    const mark = this.#mark(this.#nextMark++);
    const cgroup = `${this.#root}/${uid.slice(0, 8)}`;
    this.#pods.set(uid, { cgroup, ip, mark, namespace, cut: false });
    await this.#apply();
  }

  /** Forgets a pod whose processes have all stopped, and removes its cgroup. */
  remove(uid: string): Promise<void> {
    const removal = this.#remove(uid);
    this.#removals.add(removal);
    return removal.finally(() => this.#removals.delete(removal));
  }

  async #remove(uid: string): Promise<void> {
    if (this.#pods.delete(uid)) await this.#apply();
    const dir = `${this.#mount}/${this.#root}/${uid.slice(0, 8)}`;
    // Busy while its last processes (backends leaving after their postmaster) exit.
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await Deno.remove(dir);
        return;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Cuts the pod from the API server and its peers, or heals it. */
  async setCut(uid: string, cut: boolean): Promise<void> {
    const pod = this.#pods.get(uid);
    if (!pod) throw new Error(`No pod with UID "${uid}" is known to the partitions`);
    pod.cut = cut;
    await this.#apply();
  }

  /** Whether the pods with these IPs are separated by a cut. */
  separates(a: string, b: string): boolean {
    return separates([...this.#pods.values()], a, b);
  }

  /** Removes the table and the cgroup root (which must be empty by then). */
  async dispose(): Promise<void> {
    await Promise.allSettled([...this.#removals]);
    await this.#applying.catch(() => {});
    await this.#nft(`table inet ${this.#table}\ndelete table inet ${this.#table}\n`);
    await Deno.remove(`${this.#mount}/${this.#root}`).catch(() => {});
  }

  /** Applies the rules; one nft run at a time, each the whole table as it is then. */
  #apply(): Promise<void> {
    this.#applying = this.#applying.catch(() => {}).then(() =>
      this.#nft(this.#ruleset([...this.#pods.values()]))
    );
    return this.#applying;
  }

  #ruleset(pods: PartitionedPod[]): string {
    return partitionRuleset({
      table: this.#table,
      apiServer: this.#apiServer,
      serviceCidr: this.#serviceCidr,
      pods,
    });
  }

  async #nft(script: string): Promise<void> {
    const direct = this.#mount === "/sys/fs/cgroup";
    const mountCgroup2 = 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$0" -f -';
    const child = new Deno.Command(direct ? this.#nftPath : "unshare", {
      args: direct ? ["-f", "-"] : ["-m", "sh", "-c", mountCgroup2, this.#nftPath],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const out = await child.output();
    if (!out.success) {
      throw new Error(
        `nft failed on table "${this.#table}": ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
  }
}
