/**
 * `dbop run`: configures logging, loads the cluster configuration, checks the
 * API server, the CRD and the permissions, then runs the manager with the
 * DatabaseCluster controller until SIGTERM or SIGINT (a second signal exits
 * at once). Returns the process exit code.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { buildCrd } from "../api/mod.ts";
import { KubeClient, Resources, resourceType } from "../kube/mod.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { setupDatabaseClusterController } from "../databasecluster/controller.ts";
import {
  CLUSTER_RULES,
  INSTALL_CRDS_RULE,
  LEADER_ELECTION_RULES,
} from "../databasecluster/rbac.ts";
import {
  configureLogging,
  createOperatorMetrics,
  Manager,
  processIdentity,
  restClientObserver,
} from "../runtime/mod.ts";
import { VERSION, versionLine } from "../version.ts";
import type { RunOptions } from "./args.ts";
import { ConfigError } from "./errors.ts";
import { checkCrd, checkPermissions, checkServer } from "./preflight.ts";
import { FIELD_MANAGER } from "../databasecluster/names.ts";

const logger = getLogger(["dbop", "main"]);

const CustomResourceDefinitions = resourceType(
  "apiextensions.k8s.io",
  "v1",
  "CustomResourceDefinition",
  {
    namespaced: false,
  },
);

/** Runs the operator; resolves with the exit code. */
export async function runOperator(options: RunOptions): Promise<number> {
  await configureLogging({ level: options.logLevel, format: options.logFormat });
  let loaded;
  try {
    loaded = loadKubeConfig({
      kubeconfig: options.kubeconfig,
      context: options.context,
      serviceAccountDir: options.serviceAccountDir,
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const metrics = createOperatorMetrics();
  const client = new KubeClient(loaded.credentials, {
    observer: restClientObserver(metrics),
    userAgent: `dbop/${VERSION}`,
  });
  const resources = new Resources(client, { fieldManager: FIELD_MANAGER });
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) Deno.exit(130);
    logger.info("Shutting down");
    stop.abort();
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, onSignal);
  try {
    const serverVersion = await checkServer(resources, loaded.source);
    logger.info("{version} connected to {server} ({serverVersion}) from {source}", {
      version: versionLine(),
      server: client.server,
      serverVersion,
      source: loaded.source,
    });
    if (options.installCrds) {
      await checkPermissions(resources, [INSTALL_CRDS_RULE], { namespaces: [] });
      await resources.apply(CustomResourceDefinitions, buildCrd() as never);
      logger.info("Applied the DatabaseCluster CRD");
    }
    await checkCrd(resources);
    const id = processIdentity();
    const leaseNamespace = options.leaderElectionNamespace ?? loaded.namespace ?? "default";
    await checkPermissions(resources, CLUSTER_RULES, {
      namespaces: options.namespaces,
      leaseNamespace,
      leaseRules: options.leaderElect ? LEADER_ELECTION_RULES : [],
      warn: (message) => logger.warn("{message}", { message }),
    });
    const manager = new Manager(resources, {
      metrics,
      metricsBindAddress: options.metricsBindAddress,
      healthProbeBindAddress: options.healthProbeBindAddress,
      leaderElection: options.leaderElect
        ? { namespace: leaseNamespace, name: options.leaderElectionId, identity: id }
        : undefined,
    });
    setupDatabaseClusterController(manager, {
      namespaces: options.namespaces,
      maxConcurrentReconciles: options.maxConcurrentReconciles,
      resyncPeriodMs: options.resyncPeriodMs,
      instanceStatusPeriodMs: options.instanceStatusPeriodMs,
      instance: id,
      instanceImage: options.instanceImage,
    });
    logger.info("Starting as {identity}, watching {scope}", {
      identity: id,
      scope: options.namespaces.length ? options.namespaces.join(", ") : "all namespaces",
    });
    await manager.run(stop.signal);
    logger.info("Stopped");
    return 0;
  } finally {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.removeSignalListener(signal, onSignal);
    }
    client.close();
  }
}
