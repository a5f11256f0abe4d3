/**
 * The Secrets and ConfigMaps an instance manager follows, by name: one watch
 * each (a `metadata.name` field selector, which the per-cluster Role allows
 * with `resourceNames`), keeping each object's data (a Secret's decoded) and
 * waking whoever waits at any change of any of them. The API server, not the
 * kubelet's volume refresh (slow, and absent for `subPath` mounts), is where
 * the instance learns of a change.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Resources, resourceType } from "../kube/resources.ts";
import type { KubeObject } from "../runtime/types.ts";
import { watch } from "../runtime/watcher.ts";
import { Changes } from "./changes.ts";

type DataObject = KubeObject & { data?: Record<string, string> };

const KINDS = {
  Secret: resourceType<DataObject>("", "v1", "Secret"),
  ConfigMap: resourceType<DataObject>("", "v1", "ConfigMap"),
} as const;

type Kind = keyof typeof KINDS;

const logger = getLogger(["dbop", "instance", "objects"]);

function decode(base64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/** The latest data of some Secrets and ConfigMaps of one namespace, by name. */
export class ObjectsView {
  #resources: Resources;
  #namespace: string;
  #names: { kind: Kind; name: string }[];
  #data = new Map<string, Record<string, string>>();
  /** The objects whose watch has listed once, so that no data means they do not exist. */
  #listed = new Set<string>();
  #changes = new Changes();

  constructor(
    resources: Resources,
    namespace: string,
    names: { secrets?: string[]; configMaps?: string[] },
  ) {
    this.#resources = resources;
    this.#namespace = namespace;
    this.#names = [
      ...[...new Set(names.secrets)].map((name) => ({ kind: "Secret" as const, name })),
      ...[...new Set(names.configMaps)].map((name) => ({ kind: "ConfigMap" as const, name })),
    ];
  }

  /** The decoded data of Secret `name` as last seen; undefined before it is seen or once deleted. */
  secret(name: string): Record<string, string> | undefined {
    return this.#data.get(`Secret/${name}`);
  }

  /** Whether the watch of Secret `name` has listed once: from then on, no data means no Secret. */
  secretListed(name: string): boolean {
    return this.#listed.has(`Secret/${name}`);
  }

  /** The data of ConfigMap `name` as last seen; undefined before it is seen or once deleted. */
  configMap(name: string): Record<string, string> | undefined {
    return this.#data.get(`ConfigMap/${name}`);
  }

  /** Watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#names.map(async ({ kind, name }) => {
      const events = watch<DataObject>(this.#resources, KINDS[kind], signal, {
        namespace: this.#namespace,
        fieldSelector: `metadata.name=${name}`,
        onError: (error) =>
          logger.warn("Watching {kind} {name} failed: {error}", { kind, name, error }),
      });
      const key = `${kind}/${name}`;
      for await (const event of events) {
        if (event.type === "Listed") this.#listed.add(key);
        const object = event.type === "Listed"
          ? event.items[0]
          : event.type === "Deleted"
          ? undefined
          : event.object;
        if (object) {
          const entries = Object.entries(object.data ?? {});
          this.#data.set(
            key,
            Object.fromEntries(
              kind === "Secret" ? entries.map(([k, v]) => [k, decode(v)]) : entries,
            ),
          );
        } else {
          this.#data.delete(key);
        }
        this.#changes.notify();
      }
    }));
  }

  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts. */
  changed(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.#changes.next(signal, timeoutMs);
  }
}
