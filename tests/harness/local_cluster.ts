/**
 * A DatabaseCluster's pods on the local machine: the ConfigMap, Secrets, TLS
 * material, StatefulSet and backup CronJob as dbop builds them, run through
 * {@linkcode LocalPod} with a stand-in for the official image's entrypoint.
 * Service names resolve to 127.0.0.1 and postgresql.conf is rendered with each
 * pod's mapped paths; every other file, script, argument and variable is what
 * dbop ships.
 *
 * @module
 */
import type { V1ConfigMap, V1PodSpec, V1Secret } from "@kubernetes/client-node";
import { type DatabaseCluster, generatedUsername } from "../../lib/api/mod.ts";
import {
  backupClaimName,
  backupCronJobName,
  DATA_VOLUME,
  dataClaimName,
  podName,
  readWriteServiceName,
} from "../../lib/databasecluster/names.ts";
import { type Passwords, resolvePasswords } from "../../lib/databasecluster/passwords.ts";
import { issueClusterCa, issueServerCertificate } from "../../lib/databasecluster/tls.ts";
import { buildBackupCronJob } from "../../lib/databasecluster/specs/backup.ts";
import { CONFIG_KEYS, PATHS } from "../../lib/databasecluster/specs/common.ts";
import { buildConfigMap } from "../../lib/databasecluster/specs/config_map.ts";
import { CONTAINERS } from "../../lib/databasecluster/specs/instance_pod.ts";
import { renderPostgresqlConf } from "../../lib/databasecluster/specs/postgresql_conf.ts";
import {
  buildAppSecret,
  buildReplicationSecret,
  buildSuperuserSecret,
  SUPERUSER,
} from "../../lib/databasecluster/specs/secrets.ts";
import { buildStatefulSet } from "../../lib/databasecluster/specs/stateful_set.ts";
import {
  buildServerSecret,
  serverCertificateDnsNames,
} from "../../lib/databasecluster/specs/tls_secrets.ts";
import { LocalPod } from "./local_pod.ts";
import type { CommandResult, Sandbox, ServerProcess } from "./postgres.ts";
import type { Connection } from "./psql.ts";

/** What a cluster's pods read: the ConfigMap and the Secrets. */
interface ClusterObjects {
  configMap: V1ConfigMap;
  secrets: V1Secret[];
}

/** A cluster's objects as dbop builds them, and its pods run in the sandbox. */
export class LocalCluster {
  readonly cluster: DatabaseCluster;
  readonly passwords: Passwords;
  readonly name: string;
  #sandbox: Sandbox;
  #objects: ClusterObjects;
  #hosts: Record<string, string>;

  private constructor(
    sandbox: Sandbox,
    parts: { cluster: DatabaseCluster; objects: ClusterObjects; passwords: Passwords },
  ) {
    this.#sandbox = sandbox;
    this.cluster = parts.cluster;
    this.name = parts.cluster.metadata.name;
    this.#objects = parts.objects;
    this.passwords = parts.passwords;
    this.#hosts = { [readWriteServiceName(this.name)]: "127.0.0.1" };
  }

  /** Builds the cluster's ConfigMap and Secrets, with fresh passwords and TLS material. */
  static async create(sandbox: Sandbox, cluster: DatabaseCluster): Promise<LocalCluster> {
    const { install } = sandbox;
    if (cluster.spec.security.tls.enabled && !install.ssl) {
      // Else the server's FATAL "SSL is not supported by this build" is all one would see.
      throw new Error(
        `Cannot run "${cluster.metadata.name}" with TLS on "${install.version}" in ` +
          `"${install.binDir}": it was built without SSL`,
      );
    }
    const passwords = resolvePasswords({}, { withApp: true });
    const now = new Date();
    const ca = await issueClusterCa(`${cluster.metadata.namespace}/${cluster.metadata.name}`, now);
    const server = await issueServerCertificate(ca, serverCertificateDnsNames(cluster), { now });
    const secrets = [
      buildSuperuserSecret(cluster, passwords.superuser),
      buildAppSecret(cluster, passwords.app)!,
      buildReplicationSecret(cluster, passwords.replication),
      buildServerSecret(cluster, server),
    ];
    const objects = { configMap: buildConfigMap(cluster), secrets };
    return new LocalCluster(sandbox, { cluster, objects, passwords });
  }

  /** The ConfigMap as a pod sees it: postgresql.conf names the pod's mapped paths. */
  #configMapFor(pod: LocalPod): V1ConfigMap {
    const paths = {
      config: pod.hostPath(PATHS.config),
      socket: pod.hostPath(PATHS.socket),
      // Without TLS the pod mounts no certificate, and postgresql.conf names none.
      ...this.cluster.spec.security.tls.enabled ? { tls: pod.hostPath(PATHS.tls) } : {},
    };
    const conf = renderPostgresqlConf(this.cluster, { paths });
    const { configMap } = this.#objects;
    return { ...configMap, data: { ...configMap.data, [CONFIG_KEYS.postgresqlConf]: conf } };
  }

  /** Instance `ordinal`: its init container to completion, then PostgreSQL until ready. */
  async startInstance(
    ordinal: number,
    options: { port: number },
  ): Promise<{ pod: LocalPod; server: ServerProcess; clone: CommandResult }> {
    const pod = await this.#instancePod(ordinal);
    const clone = await pod.run(CONTAINERS.cloneReplica, { timeoutMs: 300_000 });
    if (clone.code !== 0) {
      throw new Error(`clone-replica of "${pod.name}" failed:\n${clone.stdout}${clone.stderr}`);
    }
    // Each pod owns its loopback in Kubernetes; here they share one, so only the
    // cluster's first instance keeps the configured port.
    const ownPort = options.port === this.cluster.spec.network.port
      ? []
      : ["-p", `${options.port}`];
    const server = pod.start(CONTAINERS.postgres, {
      port: options.port,
      extraArgs: ["-c", "listen_addresses=127.0.0.1", ...ownPort],
      dataDirs: [pod.hostPath(PATHS.pgdata)],
    });
    await server.waitReady(this.#sandbox, { timeoutMs: 300_000 });
    return { pod, server, clone };
  }

  async #instancePod(ordinal: number): Promise<LocalPod> {
    const name = podName(this.name, ordinal);
    const claim = dataClaimName(this.name, ordinal);
    const claimDir = await this.#sandbox.mkdir(`${this.#sandbox.root}/claims/${claim}`);
    const template = buildStatefulSet(this.cluster).spec!.template.spec!;
    // What the StatefulSet controller adds for the volumeClaimTemplate.
    const spec: V1PodSpec = {
      ...template,
      volumes: [...template.volumes ?? [], {
        name: DATA_VOLUME,
        persistentVolumeClaim: { claimName: claim },
      }],
    };
    const imageBin = await this.#sandbox.mkdir(`${this.#sandbox.root}/pods/${name}/image-bin`);
    const pod = new LocalPod(this.#sandbox, {
      name,
      spec,
      claims: { [claim]: claimDir },
      hosts: this.#hosts,
      // The image's PGDATA default, and libpq's compiled-in socket directory as PGHOST.
      image: { path: [imageBin], env: { PGDATA: PATHS.dataVolume, PGHOST: PATHS.socket } },
    });
    const entrypoint = `${imageBin}/docker-entrypoint.sh`;
    await Deno.writeTextFile(entrypoint, entrypointStub(pod.hostPath(PATHS.initdb)));
    await Deno.chmod(entrypoint, 0o755);
    await pod.materialize({
      configMaps: [this.#configMapFor(pod)],
      secrets: this.#objects.secrets,
    });
    return pod;
  }

  /** The backup volume's directory. */
  async backupDir(): Promise<string> {
    return await this.#sandbox.mkdir(`${this.#sandbox.root}/claims/${backupClaimName(this.name)}`);
  }

  /** One run of the backup CronJob's Job. */
  async runBackup(run: number): Promise<CommandResult> {
    const cronJob = buildBackupCronJob(this.cluster);
    if (!cronJob) throw new Error(`No backup CronJob for "${this.name}": backup is disabled`);
    const spec = cronJob.spec!.jobTemplate.spec!.template.spec!;
    const pod = new LocalPod(this.#sandbox, {
      name: `${backupCronJobName(this.name)}-${run}`,
      spec,
      claims: { [backupClaimName(this.name)]: await this.backupDir() },
      hosts: this.#hosts,
    });
    await pod.materialize({
      configMaps: [this.#objects.configMap],
      secrets: this.#objects.secrets,
    });
    return await pod.run(spec.containers[0].name, { timeoutMs: 120_000 });
  }

  /**
   * A TCP connection to 127.0.0.1 as `user` with its password, verifying the cluster's CA
   * (or with `sslmode` as given); without TLS in the cluster, in plain text.
   */
  tcp(
    pod: LocalPod,
    port: number,
    options: { user: "app" | "superuser"; sslmode?: string },
  ): Connection {
    const app = options.user === "app";
    const tls = this.cluster.spec.security.tls.enabled;
    return {
      host: "127.0.0.1",
      port,
      user: app ? generatedUsername(this.cluster.spec)! : SUPERUSER,
      dbname: app ? this.cluster.spec.security.authentication.database : "postgres",
      password: app ? this.passwords.app : this.passwords.superuser,
      sslmode: options.sslmode ?? (tls ? "verify-ca" : "disable"),
      ...tls ? { sslrootcert: pod.hostPath(`${PATHS.tls}/ca.crt`) } : {},
    };
  }

  /** The superuser through the pod's Unix socket (peer authentication). */
  socket(pod: LocalPod, port: number, dbname = "postgres"): Connection {
    return { host: pod.hostPath(PATHS.socket), port, user: SUPERUSER, dbname };
  }
}

/**
 * A stand-in for the official `postgres` image's `docker-entrypoint.sh`, reduced to what it
 * does for a container running as the postgres user with `postgres` as first argument: on
 * an empty PGDATA, initdb with the superuser's password and POSTGRES_INITDB_ARGS, a
 * line for remote hosts appended to PGDATA/pg_hba.conf (unused while hba_file names dbop's),
 * a temporary server with the same arguments on the Unix socket only, the `*.sh` files of
 * `initdbDir` (run when executable, else sourced), stop; then exec the arguments. Left
 * out as no-ops for dbop's pods: POSTGRES_DB (unset, so `postgres`, which exists) and
 * `*.sql` files. Added: a trap that stops the temporary server if the script is interrupted.
 */
export function entrypointStub(initdbDir: string): string {
  return `#!/usr/bin/env bash
set -Eeo pipefail
if [ "\${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "\${POSTGRES_USER:=postgres}"
  export POSTGRES_USER
  if [ -z "\${POSTGRES_PASSWORD:-}" ]; then echo "Error: POSTGRES_PASSWORD is not set" >&2; exit 1; fi
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA"
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\\n" "$POSTGRES_PASSWORD") '"\${POSTGRES_INITDB_ARGS:-}"
  auth="$(postgres -C password_encryption "\${@:2}")"
  printf '\nhost all all all %s\n' "\${POSTGRES_HOST_AUTH_METHOD:-$auth}" >> "$PGDATA/pg_hba.conf"
  export PGPASSWORD="\${PGPASSWORD:-$POSTGRES_PASSWORD}"
  temp=("\${@:2}" -c listen_addresses='' -p "\${PGPORT:-5432}")
  # Not in the image: the temporary server must not outlive an interrupted test.
  trap 'pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true' EXIT
  PGUSER="\${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "\${temp[@]}")" -w start
  for f in '${initdbDir}'/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
  PGUSER="\${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -m fast -w stop
  trap - EXIT
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
`;
}
