/**
 * SQL text the instance manager sends through psql's standard input, so no
 * password is ever on a command line: identifier and literal quoting (with
 * `standard_conforming_strings`, on since PostgreSQL 9.1, a backslash in a
 * literal is an ordinary character), the bootstrap of a new primary's roles,
 * and the status query.
 *
 * @module
 */

/** A quoted identifier: double quotes, inner ones doubled. */
export function quoteIdent(name: string): string {
  if (name.includes("\u0000")) throw new Error("An identifier cannot hold a NUL character");
  return `"${name.replaceAll('"', '""')}"`;
}

/** A quoted string literal: single quotes, inner ones doubled. */
export function quoteLiteral(text: string): string {
  if (text.includes("\u0000")) throw new Error("A literal cannot hold a NUL character");
  return `'${text.replaceAll("'", "''")}'`;
}

/** The roles and database of a new primary. */
export interface BootstrapRoles {
  superuser: { name: string; password: string };
  replication: { name: string; password: string };
  app?: { name: string; password: string; database: string };
}

/**
 * What the roles dbop uses need beyond their passwords, idempotent (run at bootstrap and
 * whenever an instance manager first runs as the primary, so clusters made before keep up):
 * - the exporter's role, a member of `pg_monitor` with no password (it logs in only over
 *   the local socket, mapped from the `postgres` OS user by pg_ident.conf);
 * - the replication role may run the file functions pg_rewind calls on its source, so a
 *   former primary rewinds without the superuser logging in over the network.
 */
export function roleGrantsSql(replication: string, monitoring: string): string {
  const grantee = quoteIdent(replication);
  return [
    `SELECT format('CREATE ROLE %I LOGIN IN ROLE pg_monitor', ${quoteLiteral(monitoring)})`,
    `  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(monitoring)}) \\gexec`,
    ...[
      "pg_ls_dir(text, boolean, boolean)",
      "pg_stat_file(text, boolean)",
      "pg_read_binary_file(text)",
      "pg_read_binary_file(text, bigint, bigint, boolean)",
    ].map((fn) => `GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${grantee};`),
  ].join("\n") + "\n";
}

/**
 * Creates the replication role and the application owner and database, and sets the
 * superuser's password again so it is hashed with the configured password_encryption.
 * Idempotent: safe to run again after an interrupted bootstrap.
 */
export function bootstrapSql(roles: BootstrapRoles): string {
  const role = (name: string, attributes: string, password: string) =>
    [
      `SELECT format('CREATE ROLE %I', ${quoteLiteral(name)})`,
      `  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(name)}) \\gexec`,
      `ALTER ROLE ${quoteIdent(name)} WITH ${attributes} PASSWORD ${quoteLiteral(password)};`,
    ].join("\n");
  const lines = [
    // The statements hold passwords: keep them out of the server log whatever it is set to.
    "SET log_statement = 'none';",
    "SET log_min_error_statement = 'panic';",
    `ALTER ROLE ${quoteIdent(roles.superuser.name)} WITH PASSWORD ${
      quoteLiteral(roles.superuser.password)
    };`,
    role(roles.replication.name, "LOGIN REPLICATION", roles.replication.password),
  ];
  const { app } = roles;
  if (app) {
    lines.push(
      role(app.name, "LOGIN", app.password),
      `SELECT format('CREATE DATABASE %I OWNER %I', ${quoteLiteral(app.database)}, ${
        quoteLiteral(app.name)
      })`,
      `  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${
        quoteLiteral(app.database)
      }) \\gexec`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * One JSON object describing the server: role, identity, timeline, WAL positions, the
 * WAL receiver and the standbys streaming from it. Valid on PostgreSQL 14 to 18.
 */
export const STATUS_QUERY = `SELECT json_build_object(
  'inRecovery', pg_is_in_recovery(),
  'systemIdentifier', (SELECT system_identifier::text FROM pg_control_system()),
  'timeline', (SELECT timeline_id FROM pg_control_checkpoint()),
  'currentLsn', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
  'receivedLsn', pg_last_wal_receive_lsn()::text,
  'replayedLsn', pg_last_wal_replay_lsn()::text,
  'lastReplayAgeSeconds', extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
  'walReceiverStatus', (SELECT status FROM pg_stat_wal_receiver),
  'receiverTimeline', (SELECT received_tli FROM pg_stat_wal_receiver),
  'pendingRestart', EXISTS (SELECT FROM pg_settings WHERE pending_restart),
  'postmasterStartTime', pg_postmaster_start_time(),
  'standbys', COALESCE((SELECT json_agg(json_build_object(
      'name', application_name, 'state', state, 'sentLsn', sent_lsn::text,
      'flushLsn', flush_lsn::text, 'replayLsn', replay_lsn::text,
      'replayLagSeconds', extract(epoch FROM replay_lag), 'syncState', sync_state
    ) ORDER BY application_name) FROM pg_stat_replication), '[]'::json)
);
`;
