/**
 * The shell script dbop ships in `<c>-config` for the backup Job, in POSIX
 * sh. It takes every value from the environment (documented at its top),
 * never from the cluster, so the same text runs in the Job and in tests
 * against a local PostgreSQL, and it prints no password. The instances run
 * no script: their instance manager (`lib/instance`) does each step.
 *
 * @module
 */

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
