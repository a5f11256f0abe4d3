/**
 * Runs the containers of a Kubernetes pod spec as local processes, the way a
 * kubelet would if the image's files were on the host: each volume (configMap,
 * secret, emptyDir, persistentVolumeClaim) becomes a directory with the files,
 * modes and owner the kubelet gives them (root-owned, group of the pod's user,
 * as `fsGroup` does), projected and downwardAPI volumes included (a
 * service-account token comes from the caller); each container's `mountPath`s
 * are mapped to those directories in its command, args and environment; env
 * values come from `value`, `secretKeyRef`, `configMapKeyRef` and `fieldRef`,
 * and `$(VAR)` references in command, args and env are expanded as the kubelet
 * does; and Service names resolve through `hosts`. Images, resources and
 * security contexts (beyond running as the server user) are not emulated;
 * probes and restarts are the emulated kubelet's (`kubelet/`).
 *
 * @module
 */
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1KeyToPath,
  V1PodSpec,
  V1Secret,
  V1ServiceAccountTokenProjection,
  V1Volume,
} from "@kubernetes/client-node";
import type { CommandResult, Sandbox, ServerProcess } from "./postgres.ts";

/** The API objects a pod's volumes and env refer to. */
export interface PodObjects {
  configMaps: V1ConfigMap[];
  secrets: V1Secret[];
  /** Issues the token of a projected `serviceAccountToken` source (the TokenRequest API). */
  serviceAccountToken?: (projection: V1ServiceAccountTokenProjection) => Promise<string>;
}

/** What an image provides: directories put first on PATH, and its default env (paths mapped). */
export interface LocalImage {
  path?: string[];
  env?: Record<string, string>;
  /** Host files standing in for the image's, by in-image path (mapped like mounts). */
  files?: Record<string, string>;
}

/** What a {@linkcode LocalPod} is made of. */
export interface LocalPodOptions {
  /** `metadata.name` of the pod. */
  name: string;
  spec: V1PodSpec;
  /** Host directory of each PersistentVolumeClaim, by claim name. */
  claims?: Record<string, string>;
  /**
   * Addresses of host names (e.g. Services) that env values name; read at each start, so
   * the owner may keep it up to date as Services come and go.
   */
  hosts?: Record<string, string>;
  /** What the image of every container provides, unless `images` names the container's. */
  image?: LocalImage;
  /** What each image provides, by the containers' `image`. */
  images?: Record<string, LocalImage>;
  /** Variables set in every container before its own (the kubelet's `KUBERNETES_SERVICE_*`). */
  env?: Record<string, string>;
  /** Downward API values by `fieldPath` (`status.podIP`, ...); `metadata.name` is always known. */
  fieldRefs?: Record<string, string>;
  /** The pod's directory (volumes live below it); default `<sandbox>/pods/<name>`. */
  root?: string;
  /** A cgroup v2 directory every process of the pod joins (its commands and execs alike). */
  cgroup?: string;
}

function decode(base64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A pod's containers as local processes of the sandbox's server user. */
export class LocalPod {
  readonly name: string;
  readonly root: string;
  #sandbox: Sandbox;
  #options: LocalPodOptions;
  #secrets: V1Secret[] = [];
  #configMaps: V1ConfigMap[] = [];

  constructor(sandbox: Sandbox, options: LocalPodOptions) {
    this.#sandbox = sandbox;
    this.#options = options;
    this.name = options.name;
    this.root = options.root ?? `${sandbox.root}/pods/${options.name}`;
  }

  #container(name: string): V1Container {
    const { spec } = this.#options;
    const container = [...spec.initContainers ?? [], ...spec.containers].find((c) =>
      c.name === name
    );
    if (!container) throw new Error(`Pod "${this.name}" has no container "${name}"`);
    return container;
  }

  #volumeDir(volume: V1Volume): string {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (claim === undefined) return `${this.root}/volumes/${volume.name}`;
    const dir = this.#options.claims?.[claim];
    if (!dir) throw new Error(`Pod "${this.name}": no directory for claim "${claim}"`);
    return dir;
  }

  /** The host directory behind `containerPath` in `container` (the first container by default). */
  hostPath(containerPath: string, container?: string): string {
    const mapped = this.#mapPaths(
      this.#container(container ?? this.#options.spec.containers[0].name),
      containerPath,
    );
    if (mapped === containerPath) {
      throw new Error(`Pod "${this.name}": nothing mounted at "${containerPath}"`);
    }
    return mapped;
  }

  #mapPaths(container: V1Container, text: string): string {
    const image = this.#options.images?.[container.image ?? ""] ?? this.#options.image;
    const dirs = new Map<string, string>(Object.entries(image?.files ?? {}));
    for (const mount of container.volumeMounts ?? []) {
      const volume = this.#options.spec.volumes?.find((v) => v.name === mount.name);
      if (!volume) throw new Error(`Pod "${this.name}": no volume "${mount.name}"`);
      const dir = this.#volumeDir(volume);
      dirs.set(mount.mountPath, mount.subPath ? `${dir}/${mount.subPath}` : dir);
    }
    if (dirs.size === 0) return text;
    // One pass, longest mount first, whole path components only: a mapped path is never
    // mapped again (host paths may contain "/tmp"), and "/tmp" does not rewrite "/tmpfoo".
    const alternatives = [...dirs.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    const pattern = new RegExp(`(?<![\\w.-])(?:${alternatives.join("|")})(?=/|$|[^\\w.-])`, "g");
    return text.replace(pattern, (mountPath) => dirs.get(mountPath)!);
  }

  async #writeFiles(
    dir: string,
    files: Record<string, string>,
    items: V1KeyToPath[] | undefined,
    mode: number,
  ) {
    const chosen: V1KeyToPath[] = items ?? Object.keys(files).map((key) => ({ key, path: key }));
    for (const item of chosen) {
      if (!(item.key in files)) {
        throw new Error(`Pod "${this.name}": no key "${item.key}" for "${dir}"`);
      }
      const path = `${dir}/${item.path}`;
      const fileMode = item.mode ?? mode;
      await Deno.writeTextFile(path, files[item.key]);
      if (Deno.uid() === 0) {
        // The kubelet's fsGroup: owned by root, group of the pod's user.
        await Deno.chown(path, 0, this.#sandbox.user.gid);
        await Deno.chmod(path, fileMode);
      } else {
        await Deno.chmod(path, fileMode & 0o700);
      }
    }
  }

  /** Creates the pod's volumes from `objects`; claims must already exist. */
  async materialize(objects: PodObjects): Promise<void> {
    this.#secrets = objects.secrets;
    this.#configMaps = objects.configMaps;
    for (const volume of this.#options.spec.volumes ?? []) {
      const dir = this.#volumeDir(volume);
      if (volume.persistentVolumeClaim) {
        if (!await Deno.stat(dir).then((s) => s.isDirectory, () => false)) {
          throw new Error(`Pod "${this.name}": claim directory "${dir}" does not exist`);
        }
        continue;
      }
      await this.#sandbox.mkdir(dir);
      if (volume.emptyDir) continue;
      if (volume.configMap) {
        const source = objects.configMaps.find((c) => c.metadata?.name === volume.configMap!.name);
        if (!source) throw new Error(`Pod "${this.name}": no ConfigMap "${volume.configMap.name}"`);
        await this.#writeFiles(
          dir,
          source.data ?? {},
          volume.configMap.items,
          volume.configMap.defaultMode ?? 0o644,
        );
      } else if (volume.secret) {
        const data = this.#secretData(volume.secret.secretName!);
        await this.#writeFiles(dir, data, volume.secret.items, volume.secret.defaultMode ?? 0o644);
      } else if (volume.downwardAPI) {
        const files = this.#downwardFiles(volume.downwardAPI.items ?? []);
        await this.#writeFiles(dir, files, undefined, volume.downwardAPI.defaultMode ?? 0o644);
      } else if (volume.projected) {
        await this.#writeProjected(dir, volume, objects);
      } else {
        throw new Error(`Pod "${this.name}": volume "${volume.name}" is of an unsupported kind`);
      }
    }
  }

  /** A projected volume: each source's files into one directory, as the kubelet merges them. */
  async #writeProjected(dir: string, volume: V1Volume, objects: PodObjects): Promise<void> {
    const mode = volume.projected!.defaultMode ?? 0o644;
    for (const source of volume.projected!.sources ?? []) {
      if (source.configMap) {
        const configMap = this.#configMap(objects, source.configMap.name!);
        await this.#writeFiles(dir, configMap.data ?? {}, source.configMap.items, mode);
      } else if (source.secret) {
        const data = this.#secretData(source.secret.name!);
        await this.#writeFiles(dir, data, source.secret.items, mode);
      } else if (source.downwardAPI) {
        await this.#writeFiles(
          dir,
          this.#downwardFiles(source.downwardAPI.items ?? []),
          undefined,
          mode,
        );
      } else if (source.serviceAccountToken) {
        if (!objects.serviceAccountToken) {
          throw new Error(`Pod "${this.name}": no issuer for the token of "${volume.name}"`);
        }
        const token = await objects.serviceAccountToken(source.serviceAccountToken);
        await this.#writeFiles(dir, { [source.serviceAccountToken.path]: token }, undefined, mode);
      } else {
        throw new Error(
          `Pod "${this.name}": a source of "${volume.name}" is of an unsupported kind`,
        );
      }
    }
  }

  #downwardFiles(
    items: { path: string; fieldRef?: { fieldPath: string } }[],
  ): Record<string, string> {
    const files: Record<string, string> = {};
    for (const item of items) {
      if (!item.fieldRef) {
        throw new Error(`Pod "${this.name}": unsupported downward API item "${item.path}"`);
      }
      files[item.path] = this.#field(item.fieldRef.fieldPath);
    }
    return files;
  }

  #field(fieldPath: string): string {
    if (fieldPath === "metadata.name") return this.name;
    const value = this.#options.fieldRefs?.[fieldPath];
    if (value === undefined) {
      throw new Error(`Pod "${this.name}": unsupported field "${fieldPath}"`);
    }
    return value;
  }

  #configMap(objects: PodObjects, name: string): V1ConfigMap {
    const configMap = objects.configMaps.find((c) => c.metadata?.name === name);
    if (!configMap) throw new Error(`Pod "${this.name}": no ConfigMap "${name}"`);
    return configMap;
  }

  #secretData(name: string): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.#secret(name).data ?? {}).map(([k, v]) => [k, decode(v)]),
    );
  }

  #secret(name: string): V1Secret {
    const secret = this.#secrets.find((s) => s.metadata?.name === name);
    if (!secret) throw new Error(`Pod "${this.name}": no Secret "${name}"`);
    return secret;
  }

  #envValue(container: V1Container, variable: V1EnvVar, env: Record<string, string>): string {
    if (variable.value !== undefined) {
      const value = expandReferences(variable.value, env);
      return this.#options.hosts?.[value] ?? this.#mapPaths(container, value);
    }
    const secretRef = variable.valueFrom?.secretKeyRef;
    if (secretRef) {
      const encoded = this.#secret(secretRef.name!).data?.[secretRef.key];
      if (encoded === undefined) {
        throw new Error(`Secret "${secretRef.name}" has no key "${secretRef.key}"`);
      }
      return decode(encoded);
    }
    const configMapRef = variable.valueFrom?.configMapKeyRef;
    if (configMapRef) {
      const value = this.#configMap(
        { configMaps: this.#configMaps, secrets: [] },
        configMapRef.name!,
      )
        .data?.[configMapRef.key];
      if (value === undefined) {
        throw new Error(`ConfigMap "${configMapRef.name}" has no key "${configMapRef.key}"`);
      }
      return value;
    }
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) return this.#field(fieldPath);
    throw new Error(`Pod "${this.name}": unsupported source of env "${variable.name}"`);
  }

  /**
   * The container's environment: the image's, the kubelet's, then its own (where `$(VAR)`
   * names an earlier one), paths and hosts mapped.
   */
  env(containerName: string): Record<string, string> {
    const container = this.#container(containerName);
    const env: Record<string, string> = { ...this.#options.env };
    const image = this.#options.images?.[container.image ?? ""] ?? this.#options.image;
    for (const [name, value] of Object.entries(image?.env ?? {})) {
      env[name] = this.#mapPaths(container, value);
    }
    for (const variable of container.env ?? []) {
      env[variable.name] = this.#envValue(container, variable, env);
    }
    const path = image?.path ?? [];
    env.PATH = [...path, this.#sandbox.env().PATH].join(":");
    return env;
  }

  #argv(containerName: string, extraArgs: string[]): string[] {
    const container = this.#container(containerName);
    const argv = [...container.command ?? [], ...container.args ?? []];
    if (argv.length === 0) {
      throw new Error(`Container "${containerName}" relies on the image's command`);
    }
    const env = this.env(containerName);
    return [
      ...argv.map((arg) => this.#mapPaths(container, expandReferences(arg, env))),
      ...extraArgs,
    ];
  }

  /** Runs a command inside a container (an exec probe): its environment, paths mapped. */
  async exec(
    containerName: string,
    argv: string[],
    options: { timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    const container = this.#container(containerName);
    const [command, ...args] = argv.map((arg) => this.#mapPaths(container, arg));
    return await this.#sandbox.run(command, args, {
      env: this.env(containerName),
      timeoutMs: options.timeoutMs,
      cgroup: this.#options.cgroup,
    });
  }

  /** Runs a container (an init container or a Job's) to completion. */
  async run(containerName: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const [command, ...args] = this.#argv(containerName, []);
    return await this.#sandbox.run(command, args, {
      env: this.env(containerName),
      timeoutMs: options.timeoutMs,
      cgroup: this.#options.cgroup,
    });
  }

  /** Starts a long-running container; `extraArgs` are appended to its args. */
  start(
    containerName: string,
    options: { port?: number; extraArgs?: string[]; dataDirs?: string[] } = {},
  ): ServerProcess {
    const [command, ...args] = this.#argv(containerName, options.extraArgs ?? []);
    return this.#sandbox.spawnServer(command, args, {
      name: `${this.name}/${containerName}`,
      port: options.port,
      env: this.env(containerName),
      dataDirs: options.dataDirs,
      cgroup: this.#options.cgroup,
    });
  }
}

/**
 * The kubelet's expansion of `$(VAR)` in command, args and env values: a defined variable
 * is replaced, `$$` escapes a `$`, and anything else is left as written.
 */
export function expandReferences(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (match, name?: string) => name === undefined ? "$" : env[name] ?? match,
  );
}
