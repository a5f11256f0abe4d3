/**
 * The files PostgreSQL reads, as the instance manager keeps them: postgresql.conf,
 * pg_hba.conf and pg_ident.conf from the cluster's ConfigMap, the server certificate (tls.crt,
 * tls.key and, when the Secret has it, ca.crt) from its TLS Secret, written into
 * directories the manager owns (an emptyDir in the pod, so the key lives in
 * memory as in a Secret volume). Each file is written only when its content
 * changed, through a temporary file renamed over it, so PostgreSQL never reads
 * half a file; the key is 0600, as PostgreSQL requires of a key its user owns.
 * Nothing is written until every followed object holds what PostgreSQL needs,
 * and PostgreSQL does not start before that first write; after it, the
 * manager reloads PostgreSQL for each change (`manager.ts`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Changes } from "./changes.ts";
import type { ObjectsView } from "./objects.ts";
import type { InstanceOptions } from "./options.ts";

const logger = getLogger(["dbop", "instance", "configuration"]);

/** How long a wait for a change lasts before the files on disk are checked again anyway. */
const RECHECK_MS = 10_000;

/** ConfigMap keys and Secret keys the instance reads, which are also its file names. */
const CONFIG_FILES = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] as const;
const TLS_FILES = ["tls.crt", "tls.key"] as const;

/** One file to keep. */
export interface ConfigFile {
  path: string;
  text: string;
  mode: number;
}

/** One followed object: where its files go, and its data (undefined: not seen). */
export interface ConfigSource {
  dir: string;
  data: Record<string, string> | undefined;
}

/**
 * The files to keep from the ConfigMap and the TLS Secret that are followed, or the
 * reason they cannot be written yet: an object not seen, or without a key PostgreSQL
 * needs (writing the rest would start it half configured).
 */
export function configFiles(
  sources: { config?: ConfigSource; tls?: ConfigSource },
): ConfigFile[] | { missing: string } {
  const files: ConfigFile[] = [];
  const { config, tls } = sources;
  const lacking = (data: Record<string, string> | undefined, keys: readonly string[]) =>
    data === undefined ? "it is not seen" : keys.filter((key) => !data[key]).join(", ");
  if (config) {
    const lack = lacking(config.data, CONFIG_FILES);
    if (lack) return { missing: `the ConfigMap: ${lack}` };
    for (const name of CONFIG_FILES) {
      files.push({ path: `${config.dir}/${name}`, text: config.data![name], mode: 0o644 });
    }
  }
  if (tls) {
    const lack = lacking(tls.data, TLS_FILES);
    if (lack) return { missing: `the TLS Secret: ${lack}` };
    const data = tls.data!;
    files.push(
      { path: `${tls.dir}/tls.crt`, text: data["tls.crt"], mode: 0o644 },
      { path: `${tls.dir}/tls.key`, text: data["tls.key"], mode: 0o600 },
    );
    if (data["ca.crt"]) {
      files.push({ path: `${tls.dir}/ca.crt`, text: data["ca.crt"], mode: 0o644 });
    }
  }
  return files;
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Writes `text` to `path` through a temporary file renamed over it, with `mode`. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.tmp`;
  // A leftover of an interrupted write may have another mode: never reuse it.
  await Deno.remove(temporary).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.writeTextFile(temporary, text, { mode, createNew: true });
  await Deno.chmod(temporary, mode);
  await Deno.rename(temporary, path);
}

/** Writes each file whose content on disk differs; returns the paths written. */
export async function writeChangedFiles(files: ConfigFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const file of files) {
    if (await readOrUndefined(file.path) === file.text) continue;
    await Deno.mkdir(file.path.slice(0, file.path.lastIndexOf("/")), {
      recursive: true,
      mode: 0o700,
    });
    await writeFileAtomic(file.path, file.text, file.mode);
    written.push(file.path);
  }
  return written;
}

/** Keeps the files of the followed ConfigMap and TLS Secret (`options.follow`) on disk. */
export class ConfigFollower {
  #options: Pick<InstanceOptions, "follow" | "configDir" | "tlsDir">;
  #objects: ObjectsView | undefined;
  #written = false;
  #missing = "the configuration is not written yet";
  #error: string | undefined;
  #firstWrite = new Changes();

  constructor(
    options: Pick<InstanceOptions, "follow" | "configDir" | "tlsDir">,
    objects: ObjectsView | undefined,
  ) {
    this.#options = options;
    this.#objects = objects;
  }

  /** Whether the files were written once (or nothing is followed), so PostgreSQL may start. */
  get written(): boolean {
    return this.#written;
  }

  /** Why the files are not written yet. */
  get missing(): string {
    return this.#missing;
  }

  /** Why the last write failed; undefined once one succeeds. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Resolves at the first write, after `timeoutMs`, or when `signal` aborts. */
  firstWrite(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.#firstWrite.next(signal, timeoutMs);
  }

  /** Writes the files at each change until `signal` aborts; `changed` hears of every later write. */
  async follow(signal: AbortSignal, changed: (paths: string[]) => Promise<void>): Promise<void> {
    const { follow, configDir, tlsDir } = this.#options;
    const objects = this.#objects;
    while (!signal.aborted) {
      const files = configFiles({
        config: follow.configMap
          ? { dir: configDir, data: objects?.configMap(follow.configMap) }
          : undefined,
        tls: follow.tlsSecret
          ? { dir: tlsDir!, data: objects?.secret(follow.tlsSecret) }
          : undefined,
      });
      if ("missing" in files) {
        this.#missing = `Cannot write the configuration yet: ${files.missing}`;
      } else {
        try {
          const written = await writeChangedFiles(files);
          this.#error = undefined;
          if (!this.#written) {
            this.#written = true;
            this.#firstWrite.notify();
          } else if (written.length > 0) {
            await changed(written);
          }
        } catch (error) {
          this.#error = `Cannot write the configuration: ${(error as Error).message}`;
          if (!this.#written) this.#missing = this.#error;
          logger.warn("{error}", { error: this.#error });
        }
      }
      // Nothing followed: the files are as found, and nothing will change them.
      if (!objects || (!follow.configMap && !follow.tlsSecret)) return;
      await objects.changed(signal, RECHECK_MS);
    }
  }
}
