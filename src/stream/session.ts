import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger as Logger } from 'fastify'
import { Gauge } from 'prom-client'
import type { PrismaClient } from '../db/client.js'
import { registry } from '../metrics.js'
import { changesAfter, latestChangeId, type StreamChange } from '../queries/events.js'
import { canSeeTask } from '../queries/scope.js'
import type { Caller } from '../tasks/caller.js'
import type { TaskFeed } from './feed.js'

export interface SessionOptions {
  response: ServerResponse
  requestId: string
  caller: Caller
  prisma: PrismaClient
  feed: TaskFeed
  logger: Logger
  /** Resume after this event id (Last-Event-ID); null starts from now. */
  lastEventId: bigint | null
  heartbeatMs: number
}

export interface StreamSession {
  /** Ends the stream (the client reconnects and resumes with Last-Event-ID). */
  end(): void
  done: Promise<void>
}

const streamClients = new Gauge({
  name: 'stream_clients',
  help: 'Open GET /v1/stream responses in this process',
  registers: [registry],
})

const replayPageSize = 200
// A client this far behind is not reading: drop it; it resumes from the database.
const maxBufferedBytes = 1 << 20
// Only ids near the live edge can arrive twice (replay overlap, late commits).
const rememberedIds = 5_000

const sseMessage = (change: StreamChange): string => `id: ${change.id}\nevent: task\ndata: ${change.data}\n\n`

/**
 * One `text/event-stream` response. Live changes are buffered while missed ones are
 * replayed from the database, then sent after them, skipping any already sent, so the
 * hand-over has no gap and no duplicate.
 *
 * Caveat: event ids come from a sequence, and a transaction can commit after one holding a
 * higher id. A client that disconnects between two such commits and resumes with the higher
 * id misses the lower one. Status changes are short transactions, so that window is a few
 * milliseconds wide; the task's own status (GET /v1/tasks/{id}) is always authoritative.
 */
export function startStreamSession(options: SessionOptions): StreamSession {
  const { response, caller, logger } = options
  const sent = new Set<bigint>()
  let buffered: StreamChange[] | null = []
  let ended = false
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })

  function write(chunk: string): boolean {
    if (ended) return false
    if (response.writableLength > maxBufferedBytes) {
      logger.warn('stream: client is not reading; closing its stream')
      end()
      return false
    }
    return response.write(chunk)
  }

  function send(change: StreamChange): boolean {
    if (sent.has(change.id)) return true
    sent.add(change.id)
    if (sent.size > rememberedIds) sent.delete(sent.values().next().value as bigint)
    return write(sseMessage(change))
  }

  const unsubscribe = options.feed.subscribe({
    change(change) {
      if (ended || !canSeeTask(caller, change)) return
      if (buffered) buffered.push(change)
      else send(change)
    },
    reset: () => end(),
  })
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs)

  function end() {
    if (ended) return
    ended = true
    streamClients.dec()
    clearInterval(heartbeat)
    unsubscribe()
    response.end()
    resolveDone()
  }
  streamClients.inc()
  // The response's close is the reliable sign that the client went away.
  response.on('close', end)
  response.on('error', end)

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
    'x-request-id': options.requestId,
  })
  // How long a browser's EventSource waits before reconnecting.
  write('retry: 2000\n\n')

  async function catchUp() {
    if (options.lastEventId === null) {
      // An id without data moves the client's Last-Event-ID without an event, so a client
      // that drops before its first change still resumes without a gap.
      write(`id: ${await latestChangeId(options.prisma)}\n\n`)
    } else {
      let after = options.lastEventId
      for (;;) {
        const page = await changesAfter(options.prisma, caller, after, replayPageSize)
        for (const row of page) {
          if (!send(row) && !ended)
            await Promise.race([new Promise((resolve) => response.once('drain', resolve)), done])
        }
        if (ended || page.length < replayPageSize) break
        after = page.at(-1)?.id ?? after
      }
    }
    const pending = (buffered ?? []).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    buffered = null
    for (const row of pending) send(row)
  }
  catchUp().catch((error) => {
    logger.warn({ err: error }, 'stream: catching up failed; closing the stream')
    end()
  })

  return { end, done }
}
