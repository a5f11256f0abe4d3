/**
 * Runs the containers of a Kubernetes pod spec as local processes, the way a
 * kubelet would if the image's files were on the host: each volume (configMap,
 * secret, emptyDir, persistentVolumeClaim) becomes a directory with the files,
 * modes and owner the kubelet gives them (root-owned, group of the pod's user,
 * as `fsGroup` does); each container's `mountPath`s are mapped to those
 * directories in its command, args and environment; env values come from
 * `value`, `secretKeyRef` and `fieldRef: metadata.name`; and Service names
 * resolve to 127.0.0.1 through `hosts`. Images, probes, resources and security
 * contexts (beyond running as the server user) are not emulated.
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
  V1Volume,
} from "@kubernetes/client-node";
import type { CommandResult, Sandbox, ServerProcess } from "./postgres.ts";

/** The API objects a pod's volumes and env refer to. */
export interface PodObjects {
  configMaps: V1ConfigMap[];
  secrets: V1Secret[];
}

/** What a {@linkcode LocalPod} is made of. */
export interface LocalPodOptions {
  /** `metadata.name` of the pod. */
  name: string;
  spec: V1PodSpec;
  /** Host directory of each PersistentVolumeClaim, by claim name. */
  claims?: Record<string, string>;
  /** Addresses of host names (e.g. Services) that env values name. */
  hosts?: Record<string, string>;
  /** What the image provides: directories put first on PATH, and its default env (paths mapped). */
  image?: { path?: string[]; env?: Record<string, string> };
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

  constructor(sandbox: Sandbox, options: LocalPodOptions) {
    this.#sandbox = sandbox;
    this.#options = options;
    this.name = options.name;
    this.root = `${sandbox.root}/pods/${options.name}`;
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
    const dirs = new Map<string, string>();
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
        const source = this.#secret(volume.secret.secretName!);
        const data = Object.fromEntries(
          Object.entries(source.data ?? {}).map(([k, v]) => [k, decode(v)]),
        );
        await this.#writeFiles(dir, data, volume.secret.items, volume.secret.defaultMode ?? 0o644);
      } else {
        throw new Error(`Pod "${this.name}": volume "${volume.name}" is of an unsupported kind`);
      }
    }
  }

  #secret(name: string): V1Secret {
    const secret = this.#secrets.find((s) => s.metadata?.name === name);
    if (!secret) throw new Error(`Pod "${this.name}": no Secret "${name}"`);
    return secret;
  }

  #envValue(container: V1Container, variable: V1EnvVar): string {
    if (variable.value !== undefined) {
      return this.#options.hosts?.[variable.value] ?? this.#mapPaths(container, variable.value);
    }
    const secretRef = variable.valueFrom?.secretKeyRef;
    if (secretRef) {
      const encoded = this.#secret(secretRef.name!).data?.[secretRef.key];
      if (encoded === undefined) {
        throw new Error(`Secret "${secretRef.name}" has no key "${secretRef.key}"`);
      }
      return decode(encoded);
    }
    if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") return this.name;
    throw new Error(`Pod "${this.name}": unsupported source of env "${variable.name}"`);
  }

  /** The container's environment: the image's, then its own, paths and hosts mapped. */
  env(containerName: string): Record<string, string> {
    const container = this.#container(containerName);
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.#options.image?.env ?? {})) {
      env[name] = this.#mapPaths(container, value);
    }
    for (const variable of container.env ?? []) {
      env[variable.name] = this.#envValue(container, variable);
    }
    const path = this.#options.image?.path ?? [];
    env.PATH = [...path, this.#sandbox.env().PATH].join(":");
    return env;
  }

  #argv(containerName: string, extraArgs: string[]): string[] {
    const container = this.#container(containerName);
    const argv = [...container.command ?? [], ...container.args ?? []];
    if (argv.length === 0) {
      throw new Error(`Container "${containerName}" relies on the image's command`);
    }
    return [...argv.map((arg) => this.#mapPaths(container, arg)), ...extraArgs];
  }

  /** Runs a container (an init container or a Job's) to completion. */
  async run(containerName: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const [command, ...args] = this.#argv(containerName, []);
    return await this.#sandbox.run(command, args, {
      env: this.env(containerName),
      timeoutMs: options.timeoutMs,
    });
  }

  /** Starts a long-running container; `extraArgs` are appended to its args. */
  start(
    containerName: string,
    options: { port: number; extraArgs?: string[]; dataDirs?: string[] },
  ): ServerProcess {
    const [command, ...args] = this.#argv(containerName, options.extraArgs ?? []);
    return this.#sandbox.spawnServer(command, args, {
      name: `${this.name}/${containerName}`,
      port: options.port,
      env: this.env(containerName),
      dataDirs: options.dataDirs,
    });
  }
}
