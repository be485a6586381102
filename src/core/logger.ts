import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; one line per event, with the component as `name`. */
export function createLogger(level: string): Logger {
  return pino({ level, name: 'switchboard', timestamp: pino.stdTimeFunctions.isoTime });
}
