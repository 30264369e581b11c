import { Agent, request } from 'undici'
import type { Clock } from '../clock.js'
import { resolveSafeAddresses, type UrlPolicy } from './ssrf.js'

/** What one POST to a receiver came to: its answer, or why there was none. */
export interface AttemptResult {
  httpStatus: number | null
  error: string | null
  responseBody: string | null
  retryAfterMs?: number
}

export interface WebhookSender {
  /** POSTs one signed message; never throws (a failure is in the result). */
  post(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult>
  /** Closes the kept-alive connections once the POSTs in flight have their answers. */
  close(): Promise<void>
}

export interface WebhookSenderOptions {
  policy: UrlPolicy
  timeoutMs: number
  clock: Clock
}

/**
 * An HTTP agent that connects only to addresses vetted at connect time: the check and
 * the connection use the same DNS answer, so a host cannot rebind to a private address
 * between them. Node (autoSelectFamily, the default since 20) asks for `all` addresses.
 */
function vettedAgent(policy: UrlPolicy, timeoutMs: number): Agent {
  return new Agent({
    connect: {
      timeout: timeoutMs,
      lookup: (hostname, options, callback) => {
        resolveSafeAddresses(hostname, policy).then(
          (addresses) => {
            const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family
            const entries = addresses
              .map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
              .filter((entry) => !family || entry.family === family)
            const [first] = entries
            if (!first) callback(new Error(`${hostname} has no IPv${family} address`), '', 4)
            else if (options.all) callback(null, entries)
            else callback(null, first.address, first.family)
          },
          (error: Error) => callback(error, '', 4),
        )
      },
    },
  })
}

function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (!raw) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * One sender per process: its agent keeps connections to receivers alive between messages,
 * so a receiver's second message in a while costs no new TCP (or TLS) handshake. A kept
 * connection goes to the address vetted when it was opened; each message's host is also
 * looked up and vetted again before it is sent, so a host that now resolves somewhere
 * private gets nothing, pooled connection or not.
 */
export function createWebhookSender({ policy, timeoutMs, clock }: WebhookSenderOptions): WebhookSender {
  const agent = vettedAgent(policy, timeoutMs)
  return {
    async post(url, headers, body) {
      try {
        // IP literals never reach the agent's `lookup`, so they are vetted here too.
        await resolveSafeAddresses(new URL(url).hostname, policy)
        const response = await request(url, {
          method: 'POST',
          headers,
          body,
          dispatcher: agent,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        })
        const text = (await response.body.text()).slice(0, 1024)
        const retryAfterMs = parseRetryAfter(response.headers['retry-after'], clock.now().getTime())
        return {
          httpStatus: response.statusCode,
          error: null,
          responseBody: text,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        }
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause
        return {
          httpStatus: null,
          error: `${(error as Error).message}${cause?.code ? ` (${cause.code})` : ''}`,
          responseBody: null,
        }
      }
    },
    close: () => agent.close(),
  }
}
