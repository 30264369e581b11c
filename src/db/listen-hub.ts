import type { FastifyBaseLogger as Logger } from 'fastify'
import pg from 'pg'

export interface ChannelListener {
  /** One notification's payload; notifications arrive in commit order. */
  notify(payload: string): void
  /** The LISTEN connection was lost: notifications may have been missed since the last one. */
  reset(): void
}

export interface ListenHub {
  /** True while LISTEN is active: connected, and the last heartbeat did not time out. */
  readonly listening: boolean
  /** True once LISTEN is active; false if it is not within `timeoutMs`. */
  whenListening(timeoutMs: number): Promise<boolean>
  subscribe(channel: string, listener: ChannelListener): () => void
  close(): Promise<void>
}

export interface ListenHubOptions {
  connectionString: string
  logger: Logger
  channels: readonly string[]
  /** Reconnect delays: doubling from `initialMs` up to `maxMs`, with jitter. */
  backoff?: { initialMs: number; maxMs: number }
  /**
   * A query this often on the connection; no answer within `timeoutMs` counts as lost. A
   * half-open TCP connection raises no error and would otherwise look alive for hours.
   */
  heartbeat?: { intervalMs: number; timeoutMs: number }
}

/**
 * One dedicated connection per process LISTENing on every channel the process needs, fanned
 * out to in-process subscribers. Postgres delivers a NOTIFY to every listening session, so
 * every instance sees every change. The connection is re-established with backoff when lost.
 */
export function createListenHub(options: ListenHubOptions): ListenHub {
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 10_000 }
  const heartbeat = options.heartbeat ?? { intervalMs: 5_000, timeoutMs: 3_000 }
  const { logger } = options
  const listeners = new Map<string, Set<ChannelListener>>(options.channels.map((name) => [name, new Set()]))
  const waiters = new Set<() => void>()
  let client: pg.Client | null = null
  let closed = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  let beat: NodeJS.Timeout | undefined

  function onNotification(message: pg.Notification) {
    for (const listener of listeners.get(message.channel) ?? []) listener.notify(message.payload ?? '')
  }

  function schedule() {
    if (closed) return
    const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt)
    attempt += 1
    timer = setTimeout(connect, base / 2 + Math.random() * (base / 2))
    timer.unref()
  }

  function lost(lostClient: pg.Client, error?: Error) {
    if (client !== lostClient) return
    client = null
    clearInterval(beat)
    lostClient.end().catch(() => {})
    if (closed) return
    logger.warn({ err: error }, 'listen: lost the LISTEN connection; reconnecting')
    for (const channel of listeners.values()) for (const listener of channel) listener.reset()
    schedule()
  }

  function startHeartbeat(current: pg.Client) {
    beat = setInterval(() => {
      const overdue = setTimeout(() => lost(current, new Error('heartbeat timed out')), heartbeat.timeoutMs)
      overdue.unref()
      current.query('SELECT 1').then(
        () => clearTimeout(overdue),
        (error: Error) => {
          clearTimeout(overdue)
          lost(current, error)
        },
      )
    }, heartbeat.intervalMs)
    beat.unref()
  }

  async function connect() {
    if (closed) return
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: 'poyo-task-service:listen',
      keepAlive: true,
    })
    next.on('notification', onNotification)
    next.on('error', (error) => lost(next, error))
    next.on('end', () => lost(next))
    try {
      await next.connect()
      await next.query(options.channels.map((name) => `LISTEN ${next.escapeIdentifier(name)}`).join('; '))
    } catch (error) {
      next.end().catch(() => {})
      logger.warn({ err: error, attempt }, 'listen: could not LISTEN; retrying')
      schedule()
      return
    }
    if (closed) {
      await next.end().catch(() => {})
      return
    }
    client = next
    attempt = 0
    startHeartbeat(next)
    for (const wake of waiters) wake()
    waiters.clear()
  }

  void connect()

  return {
    get listening() {
      return client !== null
    },
    async whenListening(timeoutMs) {
      if (client) return true
      if (closed) return false
      return new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timeout)
          resolve(true)
        }
        const timeout = setTimeout(() => {
          waiters.delete(wake)
          resolve(false)
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    subscribe(channel, listener) {
      const channelListeners = listeners.get(channel)
      if (!channelListeners) throw new Error(`listen: channel ${channel} is not listened to`)
      channelListeners.add(listener)
      return () => channelListeners.delete(listener)
    },
    async close() {
      closed = true
      clearTimeout(timer)
      clearInterval(beat)
      for (const channel of listeners.values()) channel.clear()
      const current = client
      client = null
      await current?.end().catch(() => {})
    },
  }
}
