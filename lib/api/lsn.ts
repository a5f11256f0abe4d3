/**
 * WAL locations (LSNs) as PostgreSQL prints them, `16/B374D848`: two hex
 * halves of a 64-bit byte position. Parsed to `bigint` so that differences
 * (replication lag in bytes) are exact beyond 2^53.
 *
 * @module
 */

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The byte position of an LSN such as `"0/3000148"`. */
export function parseLsn(text: string): bigint {
  const match = LSN.exec(text);
  if (!match) throw new Error(`Invalid LSN "${text}": expected two hex numbers as "16/B374D848"`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** The LSN of a byte position, spelled as PostgreSQL does (upper case, no padding). */
export function formatLsn(position: bigint): string {
  if (position < 0n || position >= 1n << 64n) throw new Error(`LSN out of range: ${position}`);
  const high = (position >> 32n).toString(16).toUpperCase();
  const low = (position & 0xFFFFFFFFn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/** Bytes from `behind` to `ahead`; 0 when `behind` is not behind. */
export function lsnLag(ahead: string, behind: string): bigint {
  const lag = parseLsn(ahead) - parseLsn(behind);
  return lag > 0n ? lag : 0n;
}

/** Orders two LSNs: negative, zero or positive as `a` is before, at or after `b`. */
export function compareLsn(a: string, b: string): number {
  const diff = parseLsn(a) - parseLsn(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}
