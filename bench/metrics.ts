/**
 * Prometheus text exposition, read back: a parser for what `/metrics` serves
 * (dbop's and kube-apiserver's), and sums of a metric's samples, optionally
 * grouped by one label and filtered by others. Counters are compared as
 * before/after differences, so each phase of the benchmark counts only itself.
 *
 * @module
 */

/** One sample: metric name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim().replace(/^,/, "").trim();
    let value = "";
    let j = eq + 2; // Skip `="`.
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        j++;
        value += text[j] === "n" ? "\n" : text[j];
      } else {
        value += text[j];
      }
    }
    labels[name] = value;
    i = j + 1;
  }
  return labels;
}

/** Parses the text format; comments and malformed lines are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(LINE);
    if (!match) continue;
    samples.push({
      name: match[1],
      labels: match[2] ? parseLabels(match[2]) : {},
      value: Number(match[3]),
    });
  }
  return samples;
}

/** Selects samples by label values: a string must match exactly, a function must return true. */
export type LabelFilter = Record<string, string | ((value: string) => boolean)>;

function matches(labels: Record<string, string>, where: LabelFilter): boolean {
  return Object.entries(where).every(([name, expected]) => {
    const value = labels[name] ?? "";
    return typeof expected === "string" ? value === expected : expected(value);
  });
}

/** The sum of every sample of `name` matching `where`. */
export function sumOf(samples: readonly Sample[], name: string, where: LabelFilter = {}): number {
  return samples
    .filter((s) => s.name === name && matches(s.labels, where))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The sums of the samples of `name` matching `where`, grouped by the value of `label`. */
export function sumBy(
  samples: readonly Sample[],
  name: string,
  label: string,
  where: LabelFilter = {},
): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name || !matches(s.labels, where)) continue;
    const key = s.labels[label] ?? "";
    sums[key] = (sums[key] ?? 0) + s.value;
  }
  return sums;
}

/** `after - before` per key, keeping only keys that changed. */
export function difference(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}
