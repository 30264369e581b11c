import pino, { type Logger, type LoggerOptions } from 'pino'
import type { Config } from './config.js'

export type { Logger }

/** Paths whose values never reach a log line: credentials of clients, of PoYo and of webhooks. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-webhook-signature"]',
  'headers.authorization',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.secret',
  '*.password',
  '*.webhookSecret',
  '*.webhook_secret',
]

/** Query parameters whose values are secrets (the callback token). */
const secretQueryParams = /([?&](?:token|access_token|api_key|key|secret)=)[^&]*/gi

export function redactUrl(url: string): string {
  return url.replace(secretQueryParams, '$1[Redacted]')
}

export function loggerOptions(config: Pick<Config, 'LOG_LEVEL'>): LoggerOptions {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[Redacted]' },
    serializers: {
      req: (req: { id: string; method: string; url: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        ip: req.ip,
      }),
    },
  }
}

export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  destination?: pino.DestinationStream,
): Logger {
  return destination ? pino(loggerOptions(config), destination) : pino(loggerOptions(config))
}

/** What services need of a logger; a request's logger and the root logger both fit. */
export type ServiceLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger that becomes pino's child on its first line the level lets through.
 * Fastify gives every request a child, and pino's child serializes and redacts its bindings
 * at once (about 2% of the callback route's CPU under load), though at `warn` most requests
 * never log. A class, so that each request allocates one small object, not seven closures.
 */
class LazyChildLogger {
  #parent: Logger
  #bindings: pino.Bindings
  #child: Logger | undefined

  constructor(parent: Logger, bindings: pino.Bindings) {
    this.#parent = parent
    this.#bindings = bindings
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings)
    return this.#child
  }

  #write(method: LogMethod, args: unknown[]): void {
    if (this.#child || this.#parent.isLevelEnabled(method))
      (this.#real()[method] as (...line: unknown[]) => void)(...args)
  }

  get level(): string {
    return (this.#child ?? this.#parent).level
  }
  set level(level: string) {
    this.#real().level = level
  }
  fatal(...args: unknown[]) {
    this.#write('fatal', args)
  }
  error(...args: unknown[]) {
    this.#write('error', args)
  }
  warn(...args: unknown[]) {
    this.#write('warn', args)
  }
  info(...args: unknown[]) {
    this.#write('info', args)
  }
  debug(...args: unknown[]) {
    this.#write('debug', args)
  }
  trace(...args: unknown[]) {
    this.#write('trace', args)
  }
  silent() {}
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level)
  }
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options)
  }
}

/** Fastify's childLoggerFactory: a lazy child, unless the route sets its own level or serializers. */
export function lazyChildLogger(
  parent: Logger,
  bindings: pino.Bindings,
  options: pino.ChildLoggerOptions,
): Logger {
  if (options.level !== undefined || options.serializers !== undefined) return parent.child(bindings, options)
  return new LazyChildLogger(parent, bindings) as unknown as Logger
}
