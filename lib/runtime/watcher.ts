/**
 * A watcher that never goes silent and never gives up: list (paginated), then
 * watch from the list's resourceVersion with bookmarks and a randomized server
 * timeout; a client-side inactivity timeout treats a silent stream as dead;
 * 410 Gone (on connect or as an ERROR event) triggers a relist; every other
 * failure reconnects after a jittered exponential backoff. It stops only when
 * its signal aborts.
 *
 * The state machine is the one of kube-rs's `watcher`: `relist` -> `watching`
 * -> (`relist` on 410 | `backoff` on error | `watching` again on a clean end).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { GoneError, type Status } from "../kube/errors.ts";
import type { ListOptions, Resources, ResourceType } from "../kube/resources.ts";
import { ReconnectBackoff } from "./backoff.ts";
import { type Clock, sleepWith, systemClock, type TimerId } from "./clock.ts";
import type { KubeObject } from "./types.ts";

/** What a watcher reports. */
export type WatcherEvent<T> =
  | { type: "Listed"; items: T[]; resourceVersion: string }
  | { type: "Added" | "Modified" | "Deleted"; object: T };

/** Options of {@linkcode watch}. */
export interface WatcherOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** A stream with no bytes (not even a bookmark) for this long is dead. Default 70 s. */
  inactivityTimeoutMs?: number;
  /** Server-side watch timeout range in seconds, picked at random per watch. Default 300-600. */
  timeoutSecondsRange?: [number, number];
  /** List page size. Default 500. */
  pageSize?: number;
  clock?: Clock;
  backoff?: ReconnectBackoff;
  /** Called on every failure before the backoff sleep (for metrics and tests). */
  onError?: (error: unknown) => void;
}

interface RawEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject & { code?: number; message?: string; reason?: string };
}

/** The server closed the watch with an ERROR event that is not 410. */
export class WatchErrorEvent extends Error {}

/** The watch stream sent nothing for longer than the inactivity timeout. */
export class WatchInactiveError extends Error {}

const logger = getLogger(["dbop", "watcher"]);

/** Watches `type` until `signal` aborts, yielding a full list after each (re)list and then changes. */
export async function* watch<T extends KubeObject>(
  resources: Resources,
  type: ResourceType,
  signal: AbortSignal,
  options: WatcherOptions = {},
): AsyncGenerator<WatcherEvent<T>> {
  const clock = options.clock ?? systemClock;
  const backoff = options.backoff ?? new ReconnectBackoff({ clock });
  const [minTimeout, maxTimeout] = options.timeoutSecondsRange ?? [300, 600];
  const listOptions: ListOptions = {
    namespace: options.namespace,
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
    limit: options.pageSize,
    signal,
  };
  let resourceVersion: string | undefined;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const list = await resources.list<T>(type as ResourceType<T>, listOptions);
        resourceVersion = list.metadata.resourceVersion ?? "0";
        backoff.markHealthy();
        yield { type: "Listed", items: list.items, resourceVersion };
      }
      const timeoutSeconds = minTimeout +
        Math.floor(Math.random() * (maxTimeout - minTimeout + 1));
      for await (
        const event of streamEvents(resources, type, signal, {
          ...listOptions,
          resourceVersion,
          timeoutSeconds,
          inactivityTimeoutMs: options.inactivityTimeoutMs ?? 70_000,
          clock,
        })
      ) {
        backoff.markHealthy();
        const rv = event.object.metadata?.resourceVersion;
        if (event.type === "ERROR") {
          if (event.object.code === 410) throw new GoneError(410, event.object as Status, true);
          throw new WatchErrorEvent(
            `Watch of ${type.plural} ended with an error: ${event.object.message ?? "unknown"}`,
          );
        }
        if (rv) resourceVersion = rv;
        if (event.type === "BOOKMARK") continue;
        yield {
          type: event.type === "ADDED"
            ? "Added"
            : event.type === "MODIFIED"
            ? "Modified"
            : "Deleted",
          object: event.object as T,
        };
      }
    } catch (error) {
      if (signal.aborted) break;
      options.onError?.(error);
      if (error instanceof GoneError) {
        logger.info("Watch of {plural} expired (410 Gone): relisting", { plural: type.plural });
        resourceVersion = undefined;
        continue;
      }
      const delay = backoff.next();
      logger.warn("Watch of {plural} failed, retrying in {delayMs} ms: {error}", {
        plural: type.plural,
        delayMs: delay,
        error: String(error),
      });
      await sleepWith(clock, delay, signal);
    }
  }
}

async function* streamEvents(
  resources: Resources,
  type: ResourceType,
  signal: AbortSignal,
  options: ListOptions & {
    resourceVersion: string;
    timeoutSeconds: number;
    inactivityTimeoutMs: number;
    clock: Clock;
  },
): AsyncGenerator<RawEvent> {
  const connection = new AbortController();
  const abortConnection = () => connection.abort(signal.reason);
  signal.addEventListener("abort", abortConnection, { once: true });
  let timer: TimerId | undefined;
  const armInactivity = () => {
    if (timer !== undefined) options.clock.clearTimeout(timer);
    timer = options.clock.setTimeout(
      () =>
        connection.abort(
          new WatchInactiveError(
            `Watch of ${type.plural} was silent for ${options.inactivityTimeoutMs} ms`,
          ),
        ),
      options.inactivityTimeoutMs,
    );
  };
  try {
    armInactivity();
    const res = await resources.watch(type, { ...options, signal: connection.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (true) {
      const { value, done } = await readOrAbort(reader, connection.signal);
      // A cancelled read can resolve as a clean end; an abort is never one.
      if (connection.signal.aborted) throw connection.signal.reason;
      if (done) break;
      armInactivity();
      buffer += value;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield JSON.parse(line) as RawEvent;
      }
    }
  } catch (error) {
    // Surface why the connection was aborted (inactivity) rather than a generic AbortError.
    if (connection.signal.aborted && !signal.aborted) throw connection.signal.reason;
    throw error;
  } finally {
    if (timer !== undefined) options.clock.clearTimeout(timer);
    signal.removeEventListener("abort", abortConnection);
    connection.abort();
  }
}

/** Reads one chunk, rejecting as soon as `signal` aborts even if the stream itself hangs. */
async function readOrAbort<R>(
  reader: ReadableStreamDefaultReader<R>,
  signal: AbortSignal,
): Promise<ReadableStreamReadResult<R>> {
  if (signal.aborted) throw signal.reason;
  const aborted = Promise.withResolvers<never>();
  const onAbort = () => {
    aborted.reject(signal.reason);
    reader.cancel().catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([reader.read(), aborted.promise]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
