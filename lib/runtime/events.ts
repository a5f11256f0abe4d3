/**
 * Records `events.k8s.io/v1` Events about objects, aggregated like client-go's events broadcaster so that
 * a hot loop cannot flood etcd. Occurrences with the same regarded object (by uid), type, reason, action
 * and note form one series: the first creates an Event (in the regarded object's namespace, `default`
 * for cluster-scoped objects), later ones within `seriesWindowMs` of the previous only bump a counter, and
 * the counter reaches the API as a merge patch of `series` (`count`, `lastObservedTime`) at most once per
 * `minWriteIntervalMs` per series. New series per regarded object are rate-limited by a token bucket
 * (client-go's spam filter: a burst of 25, then one per 5 minutes). `record()` returns at once and never
 * throws: invalid input, rejected writes and dropped events are reported to the logger only, and a failed
 * write is not retried (the next occurrence writes again). Time comes from an injectable {@linkcode Clock}.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { getLogger } from "@logtape/logtape";
import {
  apiVersionOf,
  NotFoundError,
  type Resources,
  type ResourceType,
  resourceType,
} from "../kube/mod.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { microTime } from "./micro_time.ts";
import type { KubeObject } from "./types.ts";

/** Normal for expected transitions, Warning for what an operator should look at. */
export type EventType = "Normal" | "Warning";

/** One occurrence to record. */
export interface EventInfo {
  /** `Normal` or `Warning`. */
  type: EventType;
  /** Why, in CamelCase, e.g. `BackupFailed`. */
  reason: string;
  /** What was done or failed, e.g. `Reconcile`. */
  action: string;
  /** Human-readable details; truncated to 1 KiB. */
  note?: string;
  /** A second object involved, e.g. the Pod a cluster event is about. */
  related?: KubeObject;
}

/** A reference to an object as Events carry it. */
export interface EventObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** An Event as it travels on the wire (times are `MicroTime` strings). */
export interface EventObject extends KubernetesObject {
  eventTime: string;
  series?: { count: number; lastObservedTime: string };
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: EventType;
  note?: string;
  regarding: EventObjectReference;
  related?: EventObjectReference;
}

/** The calls the recorder makes; {@linkcode Resources} provides them. */
export type EventClient = Pick<Resources, "create" | "patch">;

/** Options of {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  /** Who reports, e.g. `database.example.com/dbop`. */
  reportingController: string;
  /** Which instance reports, e.g. the pod name. */
  reportingInstance: string;
  /** Minimum time between two writes of one series; default 5 s. */
  minWriteIntervalMs?: number;
  /** An occurrence this long after the previous one starts a new Event; default 6 min, as client-go. */
  seriesWindowMs?: number;
  /** Series and spam-filter buckets kept in memory; default 4096. */
  maxKeys?: number;
  /** New series allowed per regarded object at once; default 25. */
  burst?: number;
  /** Time to earn back one new series per regarded object; default 5 min. */
  refillMs?: number;
  /** Bound on each API request; default 10 s. */
  requestTimeoutMs?: number;
  /** Default {@linkcode systemClock}. */
  clock?: Clock;
  /** Receives failures and drops; default logtape category `dbop.events` at warning level. */
  logger?: (message: string, properties: Record<string, unknown>) => void;
}

/** The API server's limit on `note`, in bytes. */
export const NOTE_MAX_BYTES = 1024;
const REASON = /^[A-Z][A-Za-z0-9]{0,127}$/;
const EventKind: ResourceType<EventObject> = resourceType("events.k8s.io", "v1", "Event");

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Cuts `note` to at most `NOTE_MAX_BYTES` bytes of UTF-8 without splitting a character. */
export function truncateNote(note: string): string {
  const bytes = encoder.encode(note);
  if (bytes.length <= NOTE_MAX_BYTES) return note;
  let end = NOTE_MAX_BYTES;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** The reference an Event carries for `obj`; throws when kind, apiVersion or name is missing. */
export function eventReference(obj: KubeObject): EventObjectReference {
  const { apiVersion, kind } = obj;
  const { name, namespace, uid, resourceVersion } = obj.metadata ?? {};
  if (!apiVersion || !kind || !name) {
    throw new Error(
      `Cannot refer to an object without apiVersion, kind and name: got "${apiVersion}", "${kind}", "${name}"`,
    );
  }
  return { apiVersion, kind, name, namespace, uid, resourceVersion };
}

/** A fresh Event name: the regarded object's name and a unique suffix, as client-go names them. */
function eventName(regarding: EventObjectReference, now: number): string {
  const suffix = `${Math.floor(now).toString(16)}${crypto.randomUUID().slice(0, 4)}`;
  return `${regarding.name.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

/** A signal that aborts `ms` from now on `clock`; `cancel()` disarms it. */
function timeoutSignal(clock: Clock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const id = clock.setTimeout(() => controller.abort(new Error(`Timed out after ${ms} ms`)), ms);
  return { signal: controller.signal, cancel: () => clock.clearTimeout(id) };
}

interface Series {
  key: string;
  event: EventObject;
  count: number;
  written: number;
  lastObservedAt: number;
  lastWriteAt: number;
  timer?: TimerId;
  writing?: Promise<void>;
  /** The Event's name once created. */
  created?: string;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  warned: boolean;
}

const logtape = getLogger(["dbop", "events"]);

/** Records Events; see the module doc. */
export class EventRecorder {
  readonly #client: EventClient;
  readonly #options: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #log: (message: string, properties: Record<string, unknown>) => void;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, Bucket>();

  constructor(client: EventClient, options: EventRecorderOptions) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    const log = options.logger ?? ((message, properties) => logtape.warn(message, properties));
    this.#log = (message, properties) => {
      try {
        log(message, properties);
      } catch {
        // A broken logger must not turn recording into a throw or an unhandled rejection.
      }
    };
  }

  /** Records one occurrence of `event` about `regarding`; returns at once and never throws. */
  record(regarding: KubeObject, event: EventInfo): void {
    try {
      this.#record(regarding, event);
    } catch (error) {
      this.#log("Cannot record event {reason}: {error}", { reason: event?.reason, error });
    }
  }

  /** Writes every pending series update now, ignoring the rate limit, and waits for the writes (for shutdown). */
  async flush(): Promise<void> {
    for (;;) {
      const pending = [...this.#series.values()].filter((s) => s.writing || s.count > s.written);
      if (pending.length === 0) return;
      for (const series of pending) this.#write(series);
      await Promise.all(pending.map((s) => s.writing));
    }
  }

  #record(regarding: KubeObject, info: EventInfo): void {
    if (info.type !== "Normal" && info.type !== "Warning") {
      throw new Error(`Event type must be "Normal" or "Warning": got "${info.type}"`);
    }
    if (!REASON.test(info.reason)) {
      throw new Error(
        `Event reason must be CamelCase, at most 128 characters: got "${info.reason}"`,
      );
    }
    if (!info.action || info.action.length > 128) {
      throw new Error(`Event action must have 1 to 128 characters: got "${info.action}"`);
    }
    const ref = eventReference(regarding);
    const note = info.note === undefined ? undefined : truncateNote(info.note);
    const related = info.related && eventReference(info.related);
    const objectKey = ref.uid ?? `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
    const key = JSON.stringify([
      objectKey,
      info.type,
      info.reason,
      info.action,
      note,
      related?.uid,
    ]);
    const now = this.#clock.now();
    let series = this.#series.get(key);
    if (series && now - series.lastObservedAt > (this.#options.seriesWindowMs ?? 360_000)) {
      this.#forget(key, series);
      series = undefined;
    }
    if (series) {
      series.count++;
      series.lastObservedAt = now;
      this.#series.delete(key);
      this.#series.set(key, series);
      this.#schedule(series);
      return;
    }
    if (!this.#allow(objectKey, ref, now)) return;
    series = {
      key,
      event: this.#newEvent(ref, { ...info, note, related }, now),
      count: 1,
      written: 0,
      lastObservedAt: now,
      lastWriteAt: -Infinity,
    };
    this.#series.set(key, series);
    this.#evict(this.#series, (old, s) => this.#forget(old, s));
    this.#schedule(series);
  }

  #newEvent(
    regarding: EventObjectReference,
    info: Omit<EventInfo, "related"> & { related?: EventObjectReference },
    now: number,
  ): EventObject {
    return {
      apiVersion: apiVersionOf(EventKind),
      kind: EventKind.kind,
      metadata: { name: eventName(regarding, now), namespace: regarding.namespace || "default" },
      eventTime: microTime(now),
      reportingController: this.#options.reportingController,
      reportingInstance: this.#options.reportingInstance,
      action: info.action,
      reason: info.reason,
      type: info.type,
      ...(info.note === undefined ? {} : { note: info.note }),
      regarding,
      ...(info.related ? { related: info.related } : {}),
    };
  }

  /** Takes a token from the regarded object's bucket; false means the new series is dropped. */
  #allow(objectKey: string, ref: EventObjectReference, now: number): boolean {
    const burst = this.#options.burst ?? 25;
    const bucket = this.#buckets.get(objectKey) ?? { tokens: burst, updatedAt: now, warned: false };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + (now - bucket.updatedAt) / (this.#options.refillMs ?? 300_000),
    );
    bucket.updatedAt = now;
    this.#buckets.delete(objectKey);
    this.#buckets.set(objectKey, bucket);
    this.#evict(this.#buckets, () => {});
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.warned = false;
      return true;
    }
    if (!bucket.warned) {
      bucket.warned = true;
      this.#log("Dropping events about {kind} {namespace}/{name}: too many distinct events", {
        kind: ref.kind,
        namespace: ref.namespace,
        name: ref.name,
      });
    }
    return false;
  }

  /** Drops the least recently used entries beyond `maxKeys` (maps iterate in insertion order). */
  #evict<V>(map: Map<string, V>, onEvict: (key: string, value: V) => void): void {
    const max = this.#options.maxKeys ?? 4096;
    for (const [key, value] of map) {
      if (map.size <= max) return;
      map.delete(key);
      onEvict(key, value);
    }
  }

  #forget(key: string, series: Series): void {
    if (series.timer !== undefined) this.#clock.clearTimeout(series.timer);
    series.timer = undefined;
    if (this.#series.get(key) === series) this.#series.delete(key);
  }

  /** Arranges the next write of `series` for when its rate limit allows; a write in flight reschedules itself. */
  #schedule(series: Series): void {
    if (series.timer !== undefined || series.writing) return;
    const at = series.lastWriteAt + (this.#options.minWriteIntervalMs ?? 5_000);
    series.timer = this.#clock.setTimeout(() => this.#write(series), at - this.#clock.now());
  }

  #write(series: Series): void {
    if (series.timer !== undefined) this.#clock.clearTimeout(series.timer);
    series.timer = undefined;
    if (series.writing) return;
    const count = series.count;
    series.lastWriteAt = this.#clock.now();
    const seriesField = count > 1
      ? { count, lastObservedTime: microTime(series.lastObservedAt) }
      : undefined;
    series.writing = this.#send(series, seriesField).then(
      () => {
        series.written = count;
      },
      (error) => {
        // Dropped, not retried; if the Event was never created, the next occurrence starts afresh.
        series.written = count;
        if (!series.created) this.#forget(series.key, series);
        this.#log("Cannot write event {reason} about {kind} {namespace}/{name}: {error}", {
          reason: series.event.reason,
          kind: series.event.regarding.kind,
          namespace: series.event.regarding.namespace,
          name: series.event.regarding.name,
          error,
        });
      },
    ).finally(() => {
      series.writing = undefined;
      const current = this.#series.get(series.key) === series;
      if (current && series.count > series.written) this.#schedule(series);
    });
  }

  async #send(series: Series, seriesField: EventObject["series"]): Promise<void> {
    const timeout = timeoutSignal(this.#clock, this.#options.requestTimeoutMs ?? 10_000);
    const call = { namespace: series.event.metadata?.namespace, signal: timeout.signal };
    try {
      if (series.created && seriesField) {
        try {
          await this.#client.patch(EventKind, series.created, { series: seriesField }, call);
          return;
        } catch (error) {
          // The Event expired (Events have a TTL) or was deleted: record the series anew, as client-go does.
          if (!(error instanceof NotFoundError)) throw error;
          series.event.metadata = {
            ...series.event.metadata,
            name: eventName(series.event.regarding, this.#clock.now()),
          };
        }
      }
      const body = { ...series.event, ...(seriesField ? { series: seriesField } : {}) };
      const created = await this.#client.create(EventKind, body, call);
      series.created = created.metadata?.name;
    } finally {
      timeout.cancel();
    }
  }
}
