/**
 * Generated passwords and the status token. A password is generated once, with
 * Web Crypto, stored in its Secret, and read back on every later reconcile:
 * the builders take passwords as inputs and never generate them, so re-running
 * a reconcile can never rotate a credential by accident. The bearer token of
 * the instances' status endpoints is generated and kept the same way, in
 * `<c>-status`. Passwords and tokens use letters and digits only, so they need
 * no escaping in URIs, pgpass lines, shell or an `Authorization` header.
 *
 * @module
 */
import type { V1Secret } from "@kubernetes/client-node";
import { decodeDataValue } from "./specs/common.ts";
import { STATUS_TOKEN_KEY } from "../api/constants.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Length of generated passwords: 40 characters of 62 symbols, about 238 bits. */
export const PASSWORD_LENGTH = 40;

/** The passwords of a cluster's roles; `app` is absent when `existingSecret` supplies it. */
export interface Passwords {
  superuser: string;
  replication: string;
  app?: string;
}

/** Passwords already known (read from the live Secrets), any of them missing. */
export type KnownPasswords = Partial<Passwords>;

/** A random password from `crypto.getRandomValues`, uniform over letters and digits. */
export function generatePassword(length: number = PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < 32) {
    throw new RangeError(`Cannot generate a password of length "${length}": at least 32 needed`);
  }
  // Rejection sampling: bytes at or above the largest multiple of the alphabet size
  // are discarded so every symbol is equally likely.
  const limit = 256 - (256 % ALPHABET.length);
  let password = "";
  while (password.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && password.length < length) password += ALPHABET[byte % ALPHABET.length];
    }
  }
  return password;
}

/** The `password` key of a Secret read from the API server, or undefined when absent or empty. */
export function passwordFromSecret(secret: V1Secret | undefined): string | undefined {
  return decodeDataValue(secret, "password") || undefined;
}

/**
 * Completes the known passwords: each missing one is generated, known ones are kept
 * as they are. `withApp` says whether dbop owns the application owner's password
 * (false with `existingSecret`).
 */
export function resolvePasswords(
  known: KnownPasswords,
  options: { withApp: boolean; generate?: () => string },
): Passwords {
  const generate = options.generate ?? (() => generatePassword());
  const passwords: Passwords = {
    superuser: known.superuser ?? generate(),
    replication: known.replication ?? generate(),
  };
  if (options.withApp) passwords.app = known.app ?? generate();
  return passwords;
}

/** The status token of Secret `<c>-status` read from the API server, or undefined when absent or empty. */
export function statusTokenFromSecret(secret: V1Secret | undefined): string | undefined {
  return decodeDataValue(secret, STATUS_TOKEN_KEY) || undefined;
}

/** The known status token, or a generated one (as long as a password) when none is known. */
export function resolveStatusToken(
  known: string | undefined,
  options: { generate?: () => string } = {},
): string {
  return known ?? (options.generate ?? (() => generatePassword()))();
}
