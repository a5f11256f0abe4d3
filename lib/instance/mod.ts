/**
 * `dbop instance install PATH` copies dbop into the pod (`install.ts`), and
 * `dbop instance run` is the instance manager, PID 1 of every PostgreSQL
 * container. It reads its settings from the environment the pod spec gives
 * (`options.ts`), watches its own DatabaseCluster with the pod's service
 * account, bootstraps and runs PostgreSQL in the role the cluster's status
 * decides (`manager.ts`), keeps its configuration and certificate files
 * from the API server and reloads PostgreSQL when they change
 * (`configuration.ts`), serves its status and restarts PostgreSQL when asked
 * on the pod IP (`server.ts`) to the token its Secret holds now
 * (`status_token.ts`), forwards SIGHUP to PostgreSQL (reload), reaps
 * orphans (`reaper.ts`) and on
 * SIGTERM or SIGINT stops PostgreSQL with a fast shutdown within
 * `DBOP_STOP_TIMEOUT_SECONDS`.
 *
 * It never imports the operator's controller, nor client-node at run time:
 * it runs in every pod, so its footprint counts (which is also why it hands
 * freed heap back to the kernel, `malloc_trim.ts`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { KubeClient } from "../kube/client.ts";
import { loadInCluster } from "../kube/in_cluster.ts";
import { Resources } from "../kube/resources.ts";
import { DATABASE_CLUSTER } from "../api/constants.ts";
import { EventRecorder } from "../runtime/events.ts";
import { configureLogging, LOG_LEVELS } from "../runtime/logging.ts";
import { ClusterView, INSTANCE_FIELD_MANAGER } from "./cluster.ts";
import { spawnedChildren } from "./commands.ts";
import { installSelf } from "./install.ts";
import { MallocTrimmer } from "./malloc_trim.ts";
import { InstanceManager } from "./manager.ts";
import { PrimaryLease } from "./lease.ts";
import { primaryLeaseName, statusTokenSecretName } from "../databasecluster/names.ts";
import { ObjectsView } from "./objects.ts";
import { InstanceConfigError, instanceOptionsFromEnv } from "./options.ts";
import { Reaper } from "./reaper.ts";
import { serveStatus } from "./server.ts";
import { statusToken } from "./status_token.ts";

const USAGE = "Usage: dbop instance run | dbop instance install PATH";

const logger = getLogger(["dbop", "instance"]);

/** Runs `dbop instance <args>`; resolves with the exit code. */
export async function runInstanceCommand(args: string[]): Promise<number> {
  if (args[0] === "install" && args.length === 2) {
    const kind = await installSelf(args[1]);
    Deno.stderr.writeSync(new TextEncoder().encode(`dbop: installed the ${kind} at ${args[1]}\n`));
    return 0;
  }
  if (args.length !== 1 || args[0] !== "run") throw new InstanceConfigError(USAGE);
  const env = (name: string) => Deno.env.get(name);
  const level = env("DBOP_LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InstanceConfigError(
      `The environment variable "DBOP_LOG_LEVEL" must be one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  await configureLogging({ level: level as (typeof LOG_LEVELS)[number], format: "json" });
  const options = instanceOptionsFromEnv(env);
  const credentials = loadInCluster({ serviceAccountDir: options.serviceAccountDir, env });
  const client = new KubeClient(credentials, { userAgent: "dbop-instance" });
  const resources = new Resources(client, { fieldManager: INSTANCE_FIELD_MANAGER });

  const stop = new AbortController();
  const view = new ClusterView(resources, { namespace: options.namespace, name: options.cluster });
  const { follow } = options;
  // Named after the cluster, not in the pod's environment: following it changed no template.
  const statusSecret = statusTokenSecretName(options.cluster);
  const secrets = [...Object.values(options.secrets), statusSecret, follow.tlsSecret];
  const objects = new ObjectsView(resources, options.namespace, {
    secrets: secrets.filter((n): n is string => n !== undefined),
    configMaps: follow.configMap ? [follow.configMap] : [],
  });
  const events = new EventRecorder(resources, {
    reportingController: `${DATABASE_CLUSTER.group}/dbop-instance`,
    reportingInstance: options.pod,
  });
  const manager = new InstanceManager(options, view, {
    objects,
    events,
    primaryLease: (owner) =>
      new PrimaryLease(resources, {
        namespace: options.namespace,
        name: primaryLeaseName(options.cluster),
        holder: options.pod,
        owner,
      }),
  });
  const onStop = () => stop.abort();
  const onReload = () => manager.forward("SIGHUP");
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGINT", onStop);
  Deno.addSignalListener("SIGHUP", onReload);
  const reaper = new Reaper(() => spawnedChildren, {
    onReaped: (count) => logger.info("Reaped {count} orphaned processes", { count }),
  });
  reaper.start();
  const trimmer = new MallocTrimmer();
  trimmer.start();
  const server = serveStatus(manager, {
    hostname: options.podIp,
    port: options.status.port,
    token: () =>
      statusToken(options.status.token, {
        listed: objects.secretListed(statusSecret),
        data: objects.secret(statusSecret),
      }),
    signal: stop.signal,
  });
  const watching = Promise.all([view.run(stop.signal), objects.run(stop.signal)]).catch(
    (error) => {
      if (!stop.signal.aborted) logger.error("A watch ended: {error}", { error });
    },
  );
  logger.info("Instance manager of {pod} started (cluster {namespace}/{cluster})", {
    pod: options.pod,
    namespace: options.namespace,
    cluster: options.cluster,
  });
  try {
    await manager.run(stop.signal);
  } finally {
    stop.abort();
    Deno.removeSignalListener("SIGTERM", onStop);
    Deno.removeSignalListener("SIGINT", onStop);
    Deno.removeSignalListener("SIGHUP", onReload);
    await Promise.allSettled([server.finished, watching]);
    reaper.stop();
    trimmer.stop();
    await events.flush();
    client.close();
  }
  logger.info("Instance manager of {pod} stopped", { pod: options.pod });
  return 0;
}
