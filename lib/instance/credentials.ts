/**
 * Credentials follow the Secrets. The instance manager watches the
 * cluster's credential Secrets by name (superuser, replication, application
 * owner: the Role allows exactly those; `objects.ts`) and keeps the latest
 * passwords. On
 * the primary, a password that differs from the one last applied is set with
 * `ALTER ROLE ... PASSWORD` (hashed by the server's `password_encryption`,
 * no restart); every instance rewrites its replication passfile, which libpq
 * reads at each connection, so a standby reconnects with the new password.
 * After a start, the primary applies them all once: PostgreSQL then holds
 * what the Secrets hold, whatever changed while it was down.
 *
 * @module
 */
import { quoteIdent, quoteLiteral } from "./sql.ts";

/** The passwords an instance uses and the primary applies. */
export interface Credentials {
  superuser: string;
  replication: string;
  app?: { user: string; password: string };
}

/**
 * Passwords the operator handed over (`POST /passwords`) before it writes their Secret.
 * One stands in for its Secret's password while the Secret, as this manager sees it, is
 * still what it was at the handover (gone, or the old password): the operator writes the
 * Secret only after the handover, so a watch that has not caught up never undoes it.
 * Once the Secret shows anything else, the Secret wins and the handover is forgotten.
 */
export class HandedOverPasswords {
  #entries = new Map<string, { password: string; seen: string | undefined }>();

  /** Records `password` for Secret `secret`, whose data is `seen` now. */
  add(secret: string, password: string, seen: Record<string, string> | undefined): void {
    this.#entries.set(secret, { password, seen: seen?.password });
  }

  /** Secret `secret`'s data as it counts now: `data`, or the handed-over password over it. */
  overlay(
    secret: string,
    data: Record<string, string> | undefined,
  ): Record<string, string> | undefined {
    const entry = this.#entries.get(secret);
    if (entry === undefined) return data;
    if (data?.password !== entry.seen) {
      this.#entries.delete(secret);
      return data;
    }
    return { ...data, password: entry.password };
  }
}

/**
 * The credentials now: each Secret's password where it holds one, else `fallback` (what
 * was used last: a Secret that is gone changes nothing until it is back).
 */
export function currentCredentials(
  fallback: Credentials,
  secrets: {
    superuser?: Record<string, string>;
    replication?: Record<string, string>;
    app?: Record<string, string>;
  },
): Credentials {
  const password = (data: Record<string, string> | undefined, otherwise: string) =>
    data?.password ? data.password : otherwise;
  const credentials: Credentials = {
    superuser: password(secrets.superuser, fallback.superuser),
    replication: password(secrets.replication, fallback.replication),
  };
  if (fallback.app) {
    credentials.app = {
      user: secrets.app?.username ? secrets.app.username : fallback.app.user,
      password: password(secrets.app, fallback.app.password),
    };
  }
  return credentials;
}

/**
 * The statements (psql, with `\gexec`) that bring PostgreSQL from `applied` to `wanted`
 * (everything when nothing was applied yet); empty when they agree. A new application owner
 * name renames the old role, which keeps what it owns (a rename clears an md5 password, so
 * the password is set again); a role that does not exist is created.
 */
export function passwordChanges(
  roles: { superuser: string; replication: string },
  wanted: Credentials,
  applied: Credentials | undefined,
): string[] {
  const changes: string[] = [];
  const alter = (role: string, password: string) =>
    `ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${quoteLiteral(password)};`;
  if (wanted.superuser !== applied?.superuser) {
    changes.push(alter(roles.superuser, wanted.superuser));
  }
  if (wanted.replication !== applied?.replication) {
    changes.push(alter(roles.replication, wanted.replication));
  }
  const app = wanted.app;
  if (!app) return changes;
  const renamed = applied?.app !== undefined && applied.app.user !== app.user;
  if (renamed) {
    const [from, to] = [quoteLiteral(applied!.app!.user), quoteLiteral(app.user)];
    changes.push(
      `SELECT format('ALTER ROLE %I RENAME TO %I', ${from}, ${to}) WHERE EXISTS ` +
        `(SELECT FROM pg_roles WHERE rolname = ${from}) AND NOT EXISTS ` +
        `(SELECT FROM pg_roles WHERE rolname = ${to}) \\gexec`,
    );
  }
  if (renamed || app.password !== applied?.app?.password) {
    const name = quoteLiteral(app.user);
    changes.push(
      `SELECT format('CREATE ROLE %I LOGIN', ${name}) WHERE NOT EXISTS ` +
        `(SELECT FROM pg_roles WHERE rolname = ${name}) \\gexec`,
      alter(app.user, app.password),
    );
  }
  return changes;
}
