// Credentials of identity backends come only from files (mounted Secrets), read when the
// backend is built, never logged. A missing or empty file is a configuration error.
import { readFileSync } from 'node:fs';

export class IdentityConfigError extends Error {
  override name = 'IdentityConfigError';
}

export type ReadFile = (path: string) => string;

export const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

/** Reads a secret from a file; one trailing newline (as `kubectl create secret --from-file` often has) is dropped. */
export function readSecretFile(path: string, what: string, readFile: ReadFile = readUtf8): string {
  let content: string;
  try {
    content = readFile(path);
  } catch (error) {
    throw new IdentityConfigError(`cannot read ${what} from ${path}: ${(error as Error).message}`);
  }
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw new IdentityConfigError(`${what} file ${path} is empty`);
  return value;
}

/**
 * A secret that is read again when its file changes (a rotated Secret is updated in place by
 * the kubelet), so a rotation needs no restart. Falls back to the last good value when the
 * file briefly disappears during the kubelet's symlink swap.
 */
export class SecretFile {
  private readonly path: string;
  private readonly what: string;
  private readonly readFile: ReadFile;
  private value: string;

  constructor(path: string, what: string, readFile: ReadFile = readUtf8) {
    this.path = path;
    this.what = what;
    this.readFile = readFile;
    this.value = readSecretFile(path, what, readFile);
  }

  get(): string {
    try {
      this.value = readSecretFile(this.path, this.what, this.readFile);
    } catch {
      // keep the last good value
    }
    return this.value;
  }

  /** Never print the secret: JSON and inspection show only where it comes from. */
  toJSON(): string {
    return `<secret from ${this.path}>`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}
