/**
 * The errors that end a `dbop` command with exit code 2, and the mapping
 * from an error to the exit code. Kept apart from the commands, which
 * `mod.ts` loads lazily, so that it can classify their errors without
 * loading them.
 *
 * @module
 */
import { InstanceConfigError } from "../instance/options.ts";

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A clear one-line configuration problem (exit code 2). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * The exit code of a command that failed with `error`: 2 for a usage or configuration mistake
 * (including a file that does not exist), 1 for anything else.
 */
export function exitCodeOf(error: unknown): number {
  const mistake = error instanceof UsageError || error instanceof ConfigError ||
    error instanceof InstanceConfigError || error instanceof Deno.errors.NotFound;
  return mistake ? 2 : 1;
}
