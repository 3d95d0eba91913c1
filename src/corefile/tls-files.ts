// Certificate, key and CA files named in a Corefile (the tls plugin, forward's
// `tls` option): read once at setup, so a missing or unreadable file is a
// configuration error naming its line, never a failure at the first query.

import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { configError } from './errors.js';

type At = { file: string; line: number };

/** The bytes of one PEM file; `what` names it in the error ("certificate", "key", "CA"). */
export function readTlsFile(path: string, at: At, plugin: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw configError(at, `${plugin}: cannot read ${what} file ${path}: ${code}`);
  }
}

/**
 * Checks that the files make a usable TLS context (PEM that parses, a key
 * that matches its certificate) and returns the options unchanged.
 */
export function checkTlsContext(opts: SecureContextOptions, at: At, plugin: string): SecureContextOptions {
  try {
    createSecureContext(opts);
  } catch (err) {
    throw configError(at, `${plugin}: unusable certificate, key or CA: ${(err as Error).message}`);
  }
  return opts;
}
