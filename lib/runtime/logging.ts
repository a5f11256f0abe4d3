/**
 * Logging setup with logtape: JSON lines on stderr when it is not a terminal
 * (what log collectors parse), readable coloured lines on a terminal. Library
 * code only calls `getLogger(["dbop", ...])`; the entry point calls
 * {@linkcode configureLogging} once.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getStreamSink,
  getTextFormatter,
  type LogLevel,
  reset,
} from "@logtape/logtape";

/** Accepted `--log-level` values. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** Accepted `--log-format` values; `auto` picks json unless stderr is a terminal. */
export const LOG_FORMATS = ["auto", "json", "text"] as const;

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  level?: (typeof LOG_LEVELS)[number];
  format?: (typeof LOG_FORMATS)[number];
  /** Where to write; default stderr. */
  stream?: WritableStream<Uint8Array>;
  /** Whether the stream is a terminal; default `Deno.stderr.isTerminal()`. */
  isTerminal?: boolean;
}

/** Configures the `dbop` log categories; safe to call again (it resets first). */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const terminal = options.isTerminal ?? Deno.stderr.isTerminal();
  const format = options.format === "auto" || !options.format
    ? (terminal ? "text" : "json")
    : options.format;
  const formatter = format === "json"
    ? getJsonLinesFormatter({ properties: "flatten", message: "rendered" })
    : terminal
    ? getAnsiColorFormatter({ timestamp: "time" })
    : getTextFormatter({ timestamp: "date-time" });
  await reset();
  await configure({
    sinks: { stderr: getStreamSink(options.stream ?? Deno.stderr.writable, { formatter }) },
    loggers: [
      { category: ["dbop"], lowestLevel: (options.level ?? "info") as LogLevel, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
