import type { FastifyBaseLogger as Logger } from 'fastify'
import type { PrismaClient } from '../db/client.js'
import { loadChanges, type StreamChange } from '../queries/events.js'
import type { ListenHub } from '../db/listen-hub.js'
import { parseChangeNotification, taskChangesChannel } from './channel.js'

export interface FeedSubscriber {
  change(row: StreamChange): void
  reset(): void
}

export interface TaskFeed {
  subscribe(subscriber: FeedSubscriber): () => void
}

/** Ids read together at most. */
const maxPerRead = 500

export interface TaskFeedOptions {
  /** Reads the changes of these event ids (one statement); the stream's own by default. */
  load?: (eventIds: bigint[]) => Promise<StreamChange[]>
  /**
   * Ids waiting to be read at most: past that the feed is not keeping up, so its streams
   * end (clients resume from the database with Last-Event-ID) and the backlog is dropped.
   */
  maxWaiting?: number
}

/**
 * Turns the hub's notifications into task changes (event and task, as the stream sends
 * them), read once per process however many streams are open, and delivered in
 * notification (commit) order. The changes notified while a read runs are read together by
 * the next: one statement's batch of status changes (up to a hundred callbacks) is one read.
 * Read one at a time through Prisma, the feed fell behind a callback burst (a few hundred a
 * second against thousands) and its backlog grew for as long as the burst lasted.
 */
export function createTaskFeed(
  hub: ListenHub,
  prisma: PrismaClient,
  logger: Logger,
  options: TaskFeedOptions = {},
): TaskFeed {
  const load = options.load ?? ((eventIds: bigint[]) => loadChanges(prisma, eventIds))
  const maxWaiting = options.maxWaiting ?? 20_000
  const subscribers = new Set<FeedSubscriber>()
  let waiting: bigint[] = []
  let reading = false
  // Bumped when the streams start over: a read begun before then delivers nothing.
  let generation = 0

  function resetAll() {
    generation++
    waiting = []
    for (const subscriber of [...subscribers]) subscriber.reset()
  }

  async function readWaiting() {
    while (waiting.length > 0 && subscribers.size > 0) {
      const eventIds = waiting.splice(0, maxPerRead)
      const readFor = generation
      try {
        const rows = new Map((await load(eventIds)).map((row) => [row.id, row]))
        if (readFor !== generation) continue
        for (const eventId of eventIds) {
          const row = rows.get(eventId)
          if (row) for (const subscriber of subscribers) subscriber.change(row)
        }
      } catch (error) {
        if (readFor !== generation) continue
        // The changes are in the database: streams that missed them get them on resume.
        logger.warn({ err: error, changes: eventIds.length }, 'stream: could not read changes')
        resetAll()
      }
    }
    waiting = []
    reading = false
  }

  hub.subscribe(taskChangesChannel, {
    notify(payload) {
      if (subscribers.size === 0) return
      const eventIds = parseChangeNotification(payload)
      if (!eventIds) {
        logger.warn({ payload }, 'stream: unreadable change notification')
        return
      }
      if (waiting.length + eventIds.length > maxWaiting) {
        logger.warn(
          { waiting: waiting.length },
          'stream: the feed fell behind; its streams resume from the database',
        )
        resetAll()
        return
      }
      for (const eventId of eventIds) waiting.push(eventId)
      if (reading) return
      reading = true
      // After the notifications that came in the same read of the socket (other commits').
      queueMicrotask(() => void readWaiting())
    },
    reset: resetAll,
  })

  return {
    subscribe(subscriber) {
      subscribers.add(subscriber)
      return () => subscribers.delete(subscriber)
    },
  }
}
