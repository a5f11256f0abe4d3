// What each entry point loads at run time, from `deno info --json` (type-only imports are
// erased, so they are not followed): a stray import must not bring client-node (~80 MiB of RSS)
// into the instance manager, or the operator into every command.
import assert from "node:assert/strict";

interface DenoInfo {
  roots: string[];
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
  }[];
  redirects: Record<string, string>;
}

const ROOT = new URL("../../", import.meta.url);
const CLIENT_NODE = "npm:@kubernetes/client-node";

/** A short name: `lib/kube/mod.ts`, `npm:zod`, `node:util`. */
function shortName(specifier: string): string {
  if (specifier.startsWith(ROOT.href)) return specifier.slice(ROOT.href.length);
  const npm = specifier.match(/^npm:\/?(@?[^@]+)@/);
  return npm ? `npm:${npm[1]}` : specifier;
}

/** Every module `root` loads when it runs, each with the module that imported it first. */
async function runTimeGraph(
  root: string,
  options: { dynamic: boolean },
): Promise<Map<string, string | undefined>> {
  const out = await new Deno.Command("deno", {
    args: ["info", "--json", root],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.ok(out.success, `deno info ${root}: ${decoder.decode(out.stderr)}`);
  const info: DenoInfo = JSON.parse(decoder.decode(out.stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) => info.redirects[specifier] ?? specifier;
  const start = resolve(info.roots[0]);
  const importedBy = new Map<string, string | undefined>([[shortName(start), undefined]]);
  const queue = [start];
  for (const specifier of queue) {
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (!dependency.code || (dependency.isDynamic && !options.dynamic)) continue;
      const child = resolve(dependency.code.specifier);
      if (importedBy.has(shortName(child))) continue;
      importedBy.set(shortName(child), shortName(specifier));
      queue.push(child);
    }
  }
  return importedBy;
}

/** `a.ts -> b.ts -> npm:x`: how `name` came into the graph. */
function importChain(graph: Map<string, string | undefined>, name: string): string {
  const chain = [name];
  for (let at = graph.get(name); at !== undefined; at = graph.get(at)) chain.unshift(at);
  return chain.join(" -> ");
}

Deno.test("lib/kube/mod.ts, the instance manager's client, does not load client-node", async () => {
  const kube = await runTimeGraph("lib/kube/mod.ts", { dynamic: true });
  assert.ok(kube.has("lib/kube/in_cluster.ts") && kube.has("lib/kube/client.ts"));
  assert.ok(!kube.has(CLIENT_NODE), `client-node is loaded: ${importChain(kube, CLIENT_NODE)}`);
  // The operator's configuration loader does, which shows the check sees npm packages.
  const config = await runTimeGraph("lib/kube/config.ts", { dynamic: true });
  assert.equal(importChain(config, CLIENT_NODE), `lib/kube/config.ts -> ${CLIENT_NODE}`);
});

Deno.test("mod.ts loads only the command line before it dispatches; each command loads its own modules", async () => {
  const eager = await runTimeGraph("mod.ts", { dynamic: false });
  assert.deepEqual([...eager.keys()].sort(), [
    "lib/cli/args.ts",
    "lib/cli/errors.ts",
    "lib/instance/options.ts",
    "lib/runtime/logging.ts",
    "lib/version.ts",
    "mod.ts",
    "node:util",
    "npm:@logtape/logtape",
  ]);
  const all = await runTimeGraph("mod.ts", { dynamic: true });
  assert.equal(importChain(all, "lib/cli/run.ts"), "mod.ts -> lib/cli/run.ts");
});
