/**
 * Reload: SIGHUP to the postmaster, which rereads postgresql.conf, pg_hba.conf
 * and the server certificate and signals its backends. A reload is
 * asynchronous, so when the server accepts connections it is confirmed:
 * `pg_conf_load_time()` advances once the postmaster has reread the files
 * (new backends inherit its state), and the settings that changed but need a
 * restart are then `pending_restart` in `pg_settings`. A postgresql.conf that
 * PostgreSQL refuses as a whole never advances it: its reload is done at
 * once, having changed nothing (`rejections.ts` says why).
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime/clock.ts";
import { type LocalServer, runSql } from "./commands.ts";
import type { Postmaster } from "./postmaster.ts";
import { FILE_REFUSED_SQL } from "./rejections.ts";

/** What the server reports of its configuration. */
export interface LoadedConfig {
  loadedAt: string;
  passwordEncryption: string;
  /** Settings changed in the files that take effect only at a restart. */
  pendingRestart: string[];
  /** Whether postgresql.conf has an error that makes PostgreSQL apply none of it. */
  fileRefused: boolean;
}

const LOADED_QUERY = `SELECT json_build_object(
  'loadedAt', pg_conf_load_time()::text,
  'passwordEncryption', current_setting('password_encryption'),
  'pendingRestart', COALESCE(
    (SELECT json_agg(name ORDER BY name) FROM pg_settings WHERE pending_restart), '[]'::json),
  'fileRefused', ${FILE_REFUSED_SQL}
);
`;

/** The configuration the server runs with now. */
export async function loadedConfig(server: LocalServer): Promise<LoadedConfig> {
  const row = JSON.parse(await runSql(server, LOADED_QUERY));
  if (
    typeof row?.loadedAt !== "string" || typeof row.passwordEncryption !== "string" ||
    !Array.isArray(row.pendingRestart) || typeof row.fileRefused !== "boolean"
  ) {
    throw new Error(`Unexpected answer to the configuration query: ${JSON.stringify(row)}`);
  }
  return row;
}

/**
 * Sends SIGHUP; when the server accepts connections, waits until it has reread its files
 * and resolves with the configuration before and after (undefined when not confirmed).
 */
export async function reloadPostgres(
  server: LocalServer,
  postmaster: Postmaster,
  options: { accepting: boolean; timeoutMs?: number; clock?: Clock },
): Promise<{ before: LoadedConfig; after: LoadedConfig } | undefined> {
  if (!options.accepting) {
    // Starting: it reads the files as they are now, or this signal makes it reread them.
    postmaster.kill("SIGHUP");
    return undefined;
  }
  const clock = options.clock ?? systemClock;
  const before = await loadedConfig(server);
  postmaster.kill("SIGHUP");
  const deadline = clock.now() + (options.timeoutMs ?? 10_000);
  while (postmaster.running) {
    const after = await loadedConfig(server);
    if (after.loadedAt !== before.loadedAt || after.fileRefused) return { before, after };
    if (clock.now() >= deadline) {
      throw new Error(
        "PostgreSQL did not reread its configuration within the bound; its log says why",
      );
    }
    await clock.sleep(50);
  }
  return undefined;
}
