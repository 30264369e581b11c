import type { FastifyBaseLogger as Logger } from 'fastify'
import pg from 'pg'

/** One `task_changes` notification (see migration `task_change_notify`). */
export interface TaskChange {
  eventId: bigint
  taskId: string
}

export interface HubListener {
  change(change: TaskChange): void
  /** The LISTEN connection was lost: changes may have been missed since the last one. */
  reset(): void
}

export interface ChangeHub {
  /** True once LISTEN is active; false if it is not within `timeoutMs`. */
  whenListening(timeoutMs: number): Promise<boolean>
  subscribe(listener: HubListener): () => void
  close(): Promise<void>
}

export interface HubOptions {
  connectionString: string
  logger: Logger
  channel?: string
  /** Reconnect delays: doubling from `initialMs` up to `maxMs`, with jitter. */
  backoff?: { initialMs: number; maxMs: number }
}

/**
 * One dedicated connection per process LISTENing on the change channel, fanned out to
 * in-process subscribers. Postgres delivers a NOTIFY to every listening session, so every
 * instance sees every change. The connection is re-established with backoff when lost.
 */
export function createChangeHub(options: HubOptions): ChangeHub {
  const channel = options.channel ?? 'task_changes'
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 10_000 }
  const { logger } = options
  const listeners = new Set<HubListener>()
  const waiters = new Set<() => void>()
  let client: pg.Client | null = null
  let closed = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined

  function onNotification(message: pg.Notification) {
    if (message.channel !== channel || !message.payload) return
    let change: TaskChange
    try {
      const body = JSON.parse(message.payload) as { event_id: string; task_id: string }
      change = { eventId: BigInt(body.event_id), taskId: body.task_id }
    } catch (error) {
      logger.warn({ err: error, payload: message.payload }, 'stream: unreadable change notification')
      return
    }
    for (const listener of listeners) listener.change(change)
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
    lostClient.end().catch(() => {})
    if (closed) return
    logger.warn({ err: error }, 'stream: lost the LISTEN connection; reconnecting')
    for (const listener of listeners) listener.reset()
    schedule()
  }

  async function connect() {
    if (closed) return
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: 'poyo-task-service:stream',
      keepAlive: true,
    })
    next.on('notification', onNotification)
    next.on('error', (error) => lost(next, error))
    next.on('end', () => lost(next))
    try {
      await next.connect()
      await next.query(`LISTEN ${next.escapeIdentifier(channel)}`)
    } catch (error) {
      next.end().catch(() => {})
      logger.warn({ err: error, attempt }, 'stream: could not LISTEN; retrying')
      schedule()
      return
    }
    if (closed) {
      await next.end().catch(() => {})
      return
    }
    client = next
    attempt = 0
    for (const wake of waiters) wake()
    waiters.clear()
  }

  void connect()

  return {
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
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      closed = true
      clearTimeout(timer)
      listeners.clear()
      const current = client
      client = null
      await current?.end().catch(() => {})
    },
  }
}
