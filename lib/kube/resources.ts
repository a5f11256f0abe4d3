/**
 * Typed access to Kubernetes resources: a descriptor per kind (group, version,
 * plural, scope) typed by client-node's generated models, and a
 * {@linkcode Resources} facade with get, list (paginated), create, server-side
 * apply, patch, delete and the raw watch stream. This layer knows no operator:
 * callers declare the kinds they use with {@linkcode resourceType} (dbop's are
 * in `lib/databasecluster/kinds.ts`) and name their field manager.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "./client.ts";
import { NotFoundError } from "./errors.ts";

/** Describes one kind; `T` is the type of its objects. */
export interface ResourceType<T extends KubernetesObject = KubernetesObject> {
  /** API group, `""` for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural used in URLs. */
  plural: string;
  namespaced: boolean;
  /** Phantom marker so descriptors carry their object type. */
  readonly _type?: T;
}

/** Declares a resource type. */
export function resourceType<T extends KubernetesObject>(
  group: string,
  version: string,
  kind: string,
  options: { plural?: string; namespaced?: boolean } = {},
): ResourceType<T> {
  return {
    group,
    version,
    kind,
    plural: options.plural ?? `${kind.toLowerCase()}s`,
    namespaced: options.namespaced ?? true,
  };
}

/** `apiVersion` of a resource type, e.g. `apps/v1`. */
export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** `kind.group` (or `kind`) for messages and metrics. */
export function kindOf(type: ResourceType): string {
  return type.group ? `${type.kind}.${type.group}` : type.kind;
}

/** A list response. */
export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Common options: the namespace (for namespaced kinds) and a cancel signal. */
export interface CallOptions {
  namespace?: string;
  signal?: AbortSignal;
}

/** Options of list and watch. */
export interface ListOptions extends CallOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; lists are always paginated. Default 500. */
  limit?: number;
}

/** The kinds of patch the API server accepts. */
export type PatchType = "merge" | "json" | "strategic";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

/** Builds the URL path of a collection, an object, or an object's subresource. */
export function resourcePath(
  type: ResourceType,
  options: { namespace?: string; name?: string; subresource?: string } = {},
): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && options.namespace
    ? `/namespaces/${encodeURIComponent(options.namespace)}`
    : "";
  const name = options.name ? `/${encodeURIComponent(options.name)}` : "";
  const sub = options.subresource ? `/${options.subresource}` : "";
  return `${base}${ns}/${type.plural}${name}${sub}`;
}

/** Options of {@linkcode Resources}. */
export interface ResourcesOptions {
  /**
   * The field manager of every write (create, apply, patch, replace). The caller
   * names itself: this layer is generic and knows no operator.
   */
  fieldManager: string;
}

/** Typed operations on any resource type over one {@linkcode KubeClient}. */
export class Resources {
  /** The transport. */
  readonly client: KubeClient;
  /** The field manager of every write. */
  readonly fieldManager: string;
  constructor(client: KubeClient, options: ResourcesOptions) {
    this.client = client;
    this.fieldManager = options.fieldManager;
  }

  /** Reads one object. */
  async get<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    options: CallOptions = {},
  ): Promise<T> {
    return await this.client.request<T>(resourcePath(type, { ...options, name }), options);
  }

  /** Reads one object, or `undefined` when it does not exist. */
  async getOrUndefined<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    options: CallOptions = {},
  ): Promise<T | undefined> {
    try {
      return await this.get(type, name, options);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Lists every object (following `continue` tokens); returns the items and the list's resourceVersion. */
  async list<T extends KubernetesObject>(
    type: ResourceType<T>,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.client.request<ObjectList<T>>(resourcePath(type, options), {
        signal: options.signal,
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: options.limit ?? 500,
          continue: cont,
        },
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { resourceVersion }, items };
  }

  /** Creates an object. */
  async create<T extends KubernetesObject>(
    type: ResourceType<T>,
    obj: T,
    options: CallOptions & { dryRun?: boolean } = {},
  ): Promise<T> {
    const namespace = options.namespace ?? obj.metadata?.namespace;
    return await this.client.request<T>(resourcePath(type, { namespace }), {
      method: "POST",
      body: obj,
      signal: options.signal,
      query: { fieldManager: this.fieldManager, dryRun: options.dryRun ? "All" : undefined },
    });
  }

  /**
   * Server-side apply as {@linkcode Resources.fieldManager}. `force` is on by
   * default: an operator is the sole authority over the fields it sets, so a hand
   * edit of one of them is drift to correct, while fields it does not set stay
   * with their owners.
   */
  async apply<T extends KubernetesObject>(
    type: ResourceType<T>,
    obj: T,
    options: CallOptions & { subresource?: "status"; force?: boolean; dryRun?: boolean } = {},
  ): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`Cannot apply a ${type.kind} without metadata.name`);
    const namespace = options.namespace ?? obj.metadata?.namespace;
    const body = { ...obj, apiVersion: apiVersionOf(type), kind: type.kind };
    return await this.client.request<T>(
      resourcePath(type, { namespace, name, subresource: options.subresource }),
      {
        method: "PATCH",
        body,
        contentType: "application/apply-patch+yaml",
        signal: options.signal,
        query: {
          fieldManager: this.fieldManager,
          force: options.force ?? true,
          dryRun: options.dryRun ? "All" : undefined,
        },
      },
    );
  }

  /** Patches an object (merge patch by default). */
  async patch<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    patch: unknown,
    options: CallOptions & { patchType?: PatchType; subresource?: string } = {},
  ): Promise<T> {
    return await this.client.request<T>(
      resourcePath(type, { ...options, name, subresource: options.subresource }),
      {
        method: "PATCH",
        body: patch,
        contentType: PATCH_CONTENT_TYPES[options.patchType ?? "merge"],
        signal: options.signal,
        query: { fieldManager: this.fieldManager },
      },
    );
  }

  /** Replaces an object (PUT), guarded by its resourceVersion. */
  async replace<T extends KubernetesObject>(
    type: ResourceType<T>,
    obj: T,
    options: CallOptions & { subresource?: string } = {},
  ): Promise<T> {
    const namespace = options.namespace ?? obj.metadata?.namespace;
    return await this.client.request<T>(
      resourcePath(type, { namespace, name: obj.metadata?.name, subresource: options.subresource }),
      {
        method: "PUT",
        body: obj,
        signal: options.signal,
        query: { fieldManager: this.fieldManager },
      },
    );
  }

  /** Deletes an object; a missing object counts as deleted. */
  async delete(
    type: ResourceType,
    name: string,
    options: CallOptions & {
      propagationPolicy?: "Foreground" | "Background" | "Orphan";
      preconditionUid?: string;
    } = {},
  ): Promise<void> {
    try {
      await this.client.request(resourcePath(type, { ...options, name }), {
        method: "DELETE",
        signal: options.signal,
        body: {
          kind: "DeleteOptions",
          apiVersion: "v1",
          propagationPolicy: options.propagationPolicy ?? "Background",
          ...(options.preconditionUid ? { preconditions: { uid: options.preconditionUid } } : {}),
        },
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  /** Opens a watch stream from `resourceVersion`; the caller owns reading and closing it. */
  async watch(
    type: ResourceType,
    options: ListOptions & { resourceVersion: string; timeoutSeconds: number },
  ): Promise<Response> {
    return await this.client.fetch(resourcePath(type, options), {
      signal: options.signal,
      query: {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
    });
  }
}
