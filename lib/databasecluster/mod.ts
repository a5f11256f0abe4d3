/**
 * The DatabaseCluster controller: pure builders of every child object
 * (`specs/`, `desired.ts`, `render.ts`), the status computer (`status.ts`),
 * and a thin reconciler (`reconciler.ts`; besides applying children it grows
 * volumes, `volume_expansion.ts`, labels pod roles, `pod_roles.ts`, and cleans
 * up, `deletion.ts`) wired into a manager by
 * {@linkcode setupDatabaseClusterController}. Names and labels live
 * in `names.ts`; every permission it needs in `rbac.ts`.
 *
 * @module
 */
export {
  CONTROLLER_NAME,
  setupDatabaseClusterController,
  type SetupOptions,
} from "./controller.ts";
export { CLUSTER_RULES, INSTALL_CRDS_RULE, LEADER_ELECTION_RULES, type Rule } from "./rbac.ts";
export { renderCluster, renderManifests } from "./render.ts";
