/**
 * The shell scripts dbop ships in `<c>-config`, in POSIX sh. They take every
 * value from the environment (documented at the top of each), never from the
 * cluster, so the same text runs in the pods and in tests against a local
 * PostgreSQL: start an instance in its role, clone a standby, create the roles
 * and the application database of a new primary, take and prune a backup. No
 * script prints a password.
 *
 * @module
 */

/**
 * `start.sh COMMAND [ARGS...]`: the PostgreSQL container's command. The pod named
 * `PRIMARY_POD` runs as the primary (the image's entrypoint creates the database on
 * first start); every other pod runs as a hot standby streaming from `PRIMARY_HOST`,
 * with `primary_conninfo` passed on the command line and the password in a passfile
 * written on each start. `PRIMARY_POD` is the single source of each pod's role.
 */
export function renderStartScript(): string {
  return `#!/bin/sh
# Starts a PostgreSQL instance of a dbop cluster in its role, then execs COMMAND.
# Usage: start.sh COMMAND [ARGS...], e.g. start.sh docker-entrypoint.sh postgres -c config_file=...
# Environment:
#   PGDATA                   data directory
#   POD_NAME, PRIMARY_POD    this instance, and the instance that is the primary
#   PRIMARY_HOST, PGPORT     where a standby streams from (the -rw Service)
#   REPLICATION_USER         streaming replication role (standbys only)
#   REPLICATION_PASSWORD     its password (standbys only)
#   REPLICATION_SSLMODE      libpq sslmode towards the primary (default prefer)
#   REPLICATION_SSLROOTCERT  CA certificate for sslmode verify-ca (optional)
#   RUN_DIR                  where the replication passfile is written (default /var/run/postgresql)
set -eu

fail() {
  echo "start.sh: $*" >&2
  exit 1
}

# A libpq connection string value: single-quoted, with backslash and quote escaped.
conninfo_quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\\\/\\\\\\\\/g' -e "s/'/\\\\\\\\'/g")"
}

# A .pgpass field, with backslash and colon escaped.
pgpass_escape() {
  printf '%s' "$1" | sed -e 's/\\\\/\\\\\\\\/g' -e 's/:/\\\\:/g'
}

[ "$#" -gt 0 ] || fail "usage: start.sh COMMAND [ARGS...]"
: "\${PGDATA:?PGDATA is required}" "\${POD_NAME:?POD_NAME is required}"
: "\${PRIMARY_POD:?PRIMARY_POD is required}"

if [ "$POD_NAME" = "$PRIMARY_POD" ]; then
  # Without standby.signal a data directory starts as a primary: so PRIMARY_POD, and
  # not what was left on disk, decides the role.
  rm -f "$PGDATA/standby.signal"
  echo "start.sh: starting $POD_NAME as the primary"
  exec "$@"
fi

: "\${PRIMARY_HOST:?PRIMARY_HOST is required}" "\${REPLICATION_USER:?REPLICATION_USER is required}"
: "\${REPLICATION_PASSWORD:?REPLICATION_PASSWORD is required}"
[ -s "$PGDATA/PG_VERSION" ] || fail "no database in \\"$PGDATA\\": run clone-replica.sh first"

passfile="\${RUN_DIR:-/var/run/postgresql}/replication.pgpass"
# libpq ignores a passfile others can read: write it 0600, afresh on every start.
(
  umask 077
  printf '*:*:*:%s:%s\\n' "$(pgpass_escape "$REPLICATION_USER")" \\
    "$(pgpass_escape "$REPLICATION_PASSWORD")" > "$passfile"
)
touch "$PGDATA/standby.signal"

conninfo="host=$(conninfo_quote "$PRIMARY_HOST") port=$(conninfo_quote "\${PGPORT:-5432}")"
conninfo="$conninfo user=$(conninfo_quote "$REPLICATION_USER")"
conninfo="$conninfo passfile=$(conninfo_quote "$passfile")"
conninfo="$conninfo application_name=$(conninfo_quote "$POD_NAME")"
conninfo="$conninfo sslmode=$(conninfo_quote "\${REPLICATION_SSLMODE:-prefer}")"
if [ -n "\${REPLICATION_SSLROOTCERT:-}" ]; then
  conninfo="$conninfo sslrootcert=$(conninfo_quote "$REPLICATION_SSLROOTCERT")"
fi
echo "start.sh: starting $POD_NAME as a standby of $PRIMARY_HOST"
exec "$@" -c "primary_conninfo=$conninfo"
`;
}

/**
 * `clone-replica.sh`: the init container of every instance. For a standby without a
 * database it waits for the primary, copies it with pg_basebackup into a sibling
 * directory, adds standby.signal and moves it into place, so an interrupted clone
 * starts over. It does nothing for the primary or when PGDATA already holds a database.
 */
export function renderCloneReplicaScript(): string {
  return `#!/bin/sh
# Clones a standby's data directory from the primary with pg_basebackup.
# Environment:
#   PGDATA                   data directory
#   POD_NAME, PRIMARY_POD    this instance, and the instance that is the primary
#   PRIMARY_HOST, PGPORT     the primary (the -rw Service)
#   REPLICATION_USER         streaming replication role
#   REPLICATION_PASSWORD     its password
#   REPLICATION_SSLMODE      libpq sslmode towards the primary (default prefer)
#   REPLICATION_SSLROOTCERT  CA certificate for sslmode verify-ca (optional)
#   CLONE_TIMEOUT            seconds to wait for the primary (default 600)
set -eu

fail() {
  echo "clone-replica.sh: $*" >&2
  exit 1
}

: "\${PGDATA:?PGDATA is required}" "\${POD_NAME:?POD_NAME is required}"
: "\${PRIMARY_POD:?PRIMARY_POD is required}"

if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "clone-replica.sh: $PGDATA already holds a database"
  exit 0
fi
if [ "$POD_NAME" = "$PRIMARY_POD" ]; then
  echo "clone-replica.sh: $POD_NAME is the primary; initdb creates its database"
  exit 0
fi

: "\${PRIMARY_HOST:?PRIMARY_HOST is required}" "\${REPLICATION_USER:?REPLICATION_USER is required}"
: "\${REPLICATION_PASSWORD:?REPLICATION_PASSWORD is required}"
port="\${PGPORT:-5432}"
timeout="\${CLONE_TIMEOUT:-600}"

deadline=$(($(date +%s) + timeout))
until pg_isready -q -h "$PRIMARY_HOST" -p "$port" -t 5; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "primary \\"$PRIMARY_HOST\\" not ready after \${timeout}s"
  sleep 2
done

PGPASSWORD="$REPLICATION_PASSWORD"
PGSSLMODE="\${REPLICATION_SSLMODE:-prefer}"
export PGPASSWORD PGSSLMODE
if [ -n "\${REPLICATION_SSLROOTCERT:-}" ]; then
  PGSSLROOTCERT="$REPLICATION_SSLROOTCERT"
  export PGSSLROOTCERT
fi

target="$PGDATA.clone"
rm -rf "$target"
echo "clone-replica.sh: cloning $PRIMARY_HOST:$port into $PGDATA"
pg_basebackup --pgdata="$target" --host="$PRIMARY_HOST" --port="$port" \\
  --username="$REPLICATION_USER" --no-password --wal-method=stream --checkpoint=fast
touch "$target/standby.signal"
chmod 0700 "$target"
# PGDATA has no PG_VERSION (checked above): anything there is an unusable leftover.
rm -rf "$PGDATA"
mv "$target" "$PGDATA"
echo "clone-replica.sh: cloned"
`;
}

/**
 * `init-primary.sh`: creates the replication role, the application owner and its
 * database on a new primary, and sets the superuser's password again so it is hashed
 * with the configured method. The image's entrypoint runs it once after initdb; it is
 * idempotent, so running it again is harmless.
 */
export function renderInitPrimaryScript(): string {
  return `#!/bin/sh
# Creates the roles and the application database of a new primary, idempotently.
# Connects through the local socket (PGHOST, PGPORT) as POSTGRES_USER (default postgres).
# Environment:
#   POSTGRES_PASSWORD                        the superuser's password
#   REPLICATION_USER, REPLICATION_PASSWORD   streaming replication role
#   APP_USER, APP_PASSWORD, APP_DATABASE     application owner and its database
set -eu

: "\${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
: "\${REPLICATION_USER:?REPLICATION_USER is required}"
: "\${REPLICATION_PASSWORD:?REPLICATION_PASSWORD is required}"
: "\${APP_USER:?APP_USER is required}" "\${APP_PASSWORD:?APP_PASSWORD is required}"
: "\${APP_DATABASE:?APP_DATABASE is required}"
superuser="\${POSTGRES_USER:-postgres}"

# Setting the superuser's password again hashes it with password_encryption
# (initdb of PostgreSQL 13 stores md5, which scram-sha-256 authentication rejects).
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \\
  --username="$superuser" --dbname=postgres \\
  --set=superuser="$superuser" --set=superuser_password="$POSTGRES_PASSWORD" \\
  --set=replication_user="$REPLICATION_USER" --set=replication_password="$REPLICATION_PASSWORD" \\
  --set=app_user="$APP_USER" --set=app_password="$APP_PASSWORD" \\
  --set=app_database="$APP_DATABASE" <<'SQL'
ALTER ROLE :"superuser" WITH PASSWORD :'superuser_password';
SELECT format('CREATE ROLE %I', :'replication_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replication_user') \\gexec
ALTER ROLE :"replication_user" WITH LOGIN REPLICATION PASSWORD :'replication_password';
SELECT format('CREATE ROLE %I', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \\gexec
ALTER ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'app_database', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_database') \\gexec
SQL
echo "init-primary.sh: roles $REPLICATION_USER and $APP_USER and database $APP_DATABASE ready"
`;
}

/**
 * `backup.sh`: the backup Job's command. Dumps the application database with
 * `pg_dump --format=custom` (restorable with pg_restore) into BACKUP_DIR as
 * `<database>-<UTC timestamp>.dump`, written under a temporary name and renamed when
 * complete, then deletes all but the newest BACKUP_RETENTION such dumps.
 */
export function renderBackupScript(): string {
  return `#!/bin/sh
# Dumps the application database into BACKUP_DIR and keeps the newest BACKUP_RETENTION dumps.
# Environment:
#   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT   as for libpq
#   BACKUP_DIR         directory of the dumps
#   BACKUP_RETENTION   number of dumps to keep (at least 1)
set -eu

fail() {
  echo "backup.sh: $*" >&2
  exit 1
}

: "\${BACKUP_DIR:?BACKUP_DIR is required}" "\${PGDATABASE:?PGDATABASE is required}"
retention="\${BACKUP_RETENTION:?BACKUP_RETENTION is required}"
case "$retention" in
  '' | *[!0-9]*) fail "BACKUP_RETENTION must be a whole number, got \\"$retention\\"" ;;
esac
[ "$retention" -ge 1 ] || fail "BACKUP_RETENTION must be at least 1, got \\"$retention\\""
[ -d "$BACKUP_DIR" ] || fail "no directory \\"$BACKUP_DIR\\""

name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Names are to the second: a second run in the same second must not replace a good dump.
[ ! -e "$BACKUP_DIR/$name" ] || fail "backup \"$name\" already exists"
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f "$partial"' EXIT
echo "backup.sh: dumping $PGDATABASE into $BACKUP_DIR/$name"
pg_dump --format=custom --no-password --file="$partial"
mv "$partial" "$BACKUP_DIR/$name"

# Only this database's complete dumps count; their names sort by time.
ls -1 "$BACKUP_DIR" | grep -E "^$PGDATABASE-[0-9]{8}T[0-9]{6}Z[.]dump\\$" | sort -r |
  tail -n "+$((retention + 1))" | while IFS= read -r old; do
    echo "backup.sh: pruning $old"
    rm -f "$BACKUP_DIR/$old"
  done
echo "backup.sh: done"
`;
}
