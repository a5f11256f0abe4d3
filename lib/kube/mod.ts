/**
 * dbop's Kubernetes client: an authenticated transport over Deno's fetch
 * taking interchangeable credentials (the pod's service account, or a
 * client-node KubeConfig), typed errors, and typed resource operations
 * including server-side apply and raw watch streams.
 *
 * Nothing here loads client-node at run time, so the instance manager can
 * use all of it. Loading a kubeconfig does (`config.ts`, `loadKubeConfig()`):
 * the operator imports that file directly.
 *
 * @module
 */
export * from "./client.ts";
export * from "./credentials.ts";
export * from "./errors.ts";
export * from "./in_cluster.ts";
export * from "./kubeconfig.ts";
export * from "./resources.ts";
