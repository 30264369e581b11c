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
