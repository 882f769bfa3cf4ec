// The agent's logger: winston, JSON lines by default (for collectors), readable text on a TTY.
// Child loggers carry fields such as `controller` and `key`.
import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text' | 'auto';

export interface LoggerOptions {
  readonly level?: string;
  readonly format?: LogFormat;
  /** Where lines go (default stderr); tests pass a stream they read. */
  readonly stream?: NodeJS.WritableStream;
}

const readable = winston.format.printf(({ timestamp, level, message, ...fields }) => {
  const extras = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${level} ${String(message)}${extras ? ` ${extras}` : ''}`;
});

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? 'auto';
  const text = format === 'text' || (format === 'auto' && 'isTTY' in stream && stream.isTTY === true);
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      winston.format.errors({ stack: false }),
      winston.format.timestamp(),
      text ? readable : winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything (for tests and tools that must stay quiet). */
export function silentLogger(): Logger {
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}
