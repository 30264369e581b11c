import type { Config } from '../config.js'
import type { UrlPolicy } from './ssrf.js'

/** Production wants https and public addresses; WEBHOOK_ALLOW_PRIVATE opens private ones for development. */
export function webhookUrlPolicy(config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE'>): UrlPolicy {
  return { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, requireHttps: config.NODE_ENV === 'production' }
}
