/**
 * The two ways an instance gets its data: `initdb` for the first primary of
 * a new cluster, `pg_basebackup` from the primary for every standby. Both
 * build in a sibling directory and rename it into place only when complete,
 * so an interrupted bootstrap leaves no half-made PGDATA and simply starts
 * over: PGDATA either holds a whole database or nothing usable.
 *
 * @module
 */
import { buildConninfo, pgpassLine } from "./conninfo.ts";
import { readLocalData, runProgram, runSql } from "./commands.ts";
import type { InstanceOptions } from "./options.ts";
import { Postmaster } from "./postmaster.ts";
import { bootstrapSql, roleGrantsSql } from "./sql.ts";
import { MONITORING_USERNAME } from "../api/constants.ts";

async function removeAll(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Writes a 0600 file (libpq and initdb ignore or refuse readable secrets). */
async function writeSecretFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** Moves a complete data directory into PGDATA, replacing an unusable leftover. */
async function install(built: string, pgdata: string): Promise<void> {
  await Deno.chmod(built, 0o700);
  await removeAll(pgdata);
  await Deno.rename(built, pgdata);
}

/**
 * Creates the cluster's database: initdb (data checksums on, so pg_rewind works), then
 * the roles and application database on a server listening on the socket only, then
 * into place. Returns the new database system identifier.
 */
export async function initPrimary(options: InstanceOptions, signal: AbortSignal): Promise<string> {
  const built = `${options.pgdata}.initdb`;
  await removeAll(built);
  const pwfile = `${options.socketDir}/initdb.pw`;
  await writeSecretFile(pwfile, `${options.superuserPassword}\n`);
  try {
    await runProgram("initdb", [
      `--pgdata=${built}`,
      "--username=postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=peer",
      `--auth-host=${options.passwordEncryption}`,
      "--data-checksums",
      "--encoding=UTF8",
    ], { signal });
  } finally {
    await removeAll(pwfile);
  }
  const server = Postmaster.start({
    pgdata: built,
    configDir: options.configDir,
    tlsDir: options.tlsDir,
    socketDir: options.socketDir,
    port: options.port,
    listen: "",
    // No standby exists yet: a synchronous commit would wait for one forever.
    settings: { synchronous_standby_names: "" },
  });
  try {
    if (!await server.waitAccepting(signal)) {
      throw new Error(`The new database in "${built}" did not start`);
    }
    await runSql(
      options,
      bootstrapSql({
        superuser: { name: "postgres", password: options.superuserPassword },
        replication: { name: options.replication.user, password: options.replication.password },
        app: options.app &&
          {
            name: options.app.user,
            password: options.app.password,
            database: options.app.database,
          },
      }) + roleGrantsSql(options.replication.user, MONITORING_USERNAME),
      { signal },
    );
  } finally {
    await server.stop(options.stopTimeoutMs);
  }
  const { systemIdentifier } = await readLocalData(built);
  await install(built, options.pgdata);
  return systemIdentifier!;
}

/** The replication passfile in the socket directory, written afresh (0600). */
export async function writeReplicationPassfile(options: InstanceOptions): Promise<string> {
  const path = `${options.socketDir}/replication.pgpass`;
  await writeSecretFile(path, pgpassLine(options.replication.user, options.replication.password));
  return path;
}

/** How a standby reaches the primary: the `-rw` Service, its passfile, its TLS checks. */
export function primaryConninfo(options: InstanceOptions, passfile: string): string {
  return buildConninfo({
    host: options.primaryHost,
    port: options.port,
    user: options.replication.user,
    passfile,
    application_name: options.pod,
    sslmode: options.replication.sslmode,
    sslrootcert: options.replication.sslrootcert,
    connect_timeout: 5,
  });
}

/** Copies the primary with pg_basebackup (WAL streamed alongside) and marks it a standby. */
export async function cloneStandby(options: InstanceOptions, signal: AbortSignal): Promise<void> {
  const built = `${options.pgdata}.clone`;
  await removeAll(built);
  const passfile = await writeReplicationPassfile(options);
  await runProgram("pg_basebackup", [
    `--pgdata=${built}`,
    `--dbname=${primaryConninfo(options, passfile)}`,
    "--wal-method=stream",
    "--checkpoint=fast",
    "--no-password",
  ], { signal });
  await Deno.writeTextFile(`${built}/standby.signal`, "");
  await install(built, options.pgdata);
}
