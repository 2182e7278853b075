// The project's structured logger (pino). One root logger; components take children.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = pino(
    {
      name: options.name ?? 'roster',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      // Tokens travel only in URLs of the accept page and in mails; redact the places they
      // could show up in structured fields anyway.
      redact: { paths: ['token', '*.token', 'req.url', 'url', 'headers.authorization'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's 30: what log pipelines and people filter on.
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination as never,
  );
  return base;
}

/** A logger that drops everything, for tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
