/**
 * libpq connection strings and password files, built from values that may
 * hold any character: conninfo values are single-quoted with backslash and
 * quote escaped; `.pgpass` fields escape backslash and colon.
 *
 * @module
 */

/** A conninfo value: single-quoted, backslash and single quote escaped. */
export function quoteConninfoValue(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** A conninfo string of the given keywords, in order; `undefined` values are left out. */
export function buildConninfo(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => {
      if (!/^[a-z_]+$/.test(key)) throw new Error(`Invalid conninfo keyword "${key}"`);
      return `${key}=${quoteConninfoValue(String(value))}`;
    })
    .join(" ");
}

/** One `.pgpass` field: backslash and colon escaped. */
export function pgpassField(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error("A .pgpass field cannot hold a line break");
  return value.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
}

/** A `.pgpass` line matching any host, port and database for `user`. */
export function pgpassLine(user: string, password: string): string {
  return `*:*:*:${pgpassField(user)}:${pgpassField(password)}\n`;
}
