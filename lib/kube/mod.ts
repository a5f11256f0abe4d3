/**
 * dbop's Kubernetes client: configuration loading (kubeconfig or in-cluster),
 * an authenticated transport over Deno's fetch, typed errors, and typed
 * resource operations including server-side apply and raw watch streams.
 *
 * @module
 */
export * from "./client.ts";
export * from "./config.ts";
export * from "./errors.ts";
export * from "./resources.ts";
