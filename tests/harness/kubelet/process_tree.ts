/**
 * A container's processes, found by descent rather than by process group:
 * PostgreSQL's postmaster makes every child a session leader of its own
 * (`setsid` in `InitPostmasterChild`), so signalling the container's group
 * reaches the instance manager and the postmaster but not the backends. The
 * tree is read from `/proc` (each process's parent), and a whole tree is
 * stopped with SIGSTOP until no new process appears (a stopped postmaster
 * forks no more backends), so that what follows (SIGKILL, or nothing until
 * SIGCONT) hits every process of the pod at the same moment, as a node that
 * dies or hangs does.
 *
 * @module
 */

/** One process of the table: its id and its parent's. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
}

/** `roots` and every process below them in `table`, parents before children. */
export function descendants(table: ProcessEntry[], roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of table) {
    children.set(ppid, [...children.get(ppid) ?? [], pid]);
  }
  const live = new Set(table.map((entry) => entry.pid));
  const found: number[] = [];
  const seen = new Set<number>();
  const queue = roots.filter((pid) => live.has(pid));
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    found.push(pid);
    queue.push(...children.get(pid) ?? []);
  }
  return found;
}

/** The live processes of this machine (zombies are dead already and ignore signals). */
export async function processTable(): Promise<ProcessEntry[]> {
  const table: ProcessEntry[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    if (!stat) continue;
    // Fields after the command name (which may hold spaces and parentheses): state, ppid.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z") continue;
    table.push({ pid: Number(entry.name), ppid: Number(ppid) });
  }
  return table;
}

/** `roots` and their descendants as they are now. */
export async function treeOf(roots: number[]): Promise<number[]> {
  return descendants(await processTable(), roots);
}

function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch { /* exited meanwhile */ }
}

/**
 * Stops `roots` and all their descendants with SIGSTOP, listing the tree again until it
 * holds no process that was not stopped yet; returns the stopped processes.
 */
export async function stopTree(roots: number[]): Promise<number[]> {
  const stopped = new Set<number>();
  while (true) {
    const fresh = (await treeOf(roots)).filter((pid) => !stopped.has(pid));
    if (fresh.length === 0) return [...stopped];
    for (const pid of fresh) {
      signal(pid, "SIGSTOP");
      stopped.add(pid);
    }
  }
}

/** Sends `name` to every process of `pids`, those that have exited meanwhile aside. */
export function signalAll(pids: number[], name: Deno.Signal): void {
  for (const pid of pids) signal(pid, name);
}
