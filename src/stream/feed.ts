import type { FastifyBaseLogger as Logger } from 'fastify'
import type { PrismaClient } from '../db/client.js'
import { loadChange, type TaskChangeRow } from '../queries/events.js'
import type { ListenHub } from '../db/listen-hub.js'

export interface FeedSubscriber {
  change(row: TaskChangeRow): void
  reset(): void
}

/** Each status change is announced here (see migration `task_change_notify`). */
export const taskChangesChannel = 'task_changes'

export interface TaskFeed {
  subscribe(subscriber: FeedSubscriber): () => void
}

/**
 * Turns the hub's notifications into task changes (event + task), read once per process
 * however many streams are open, and in notification (commit) order.
 */
export function createTaskFeed(hub: ListenHub, prisma: PrismaClient, logger: Logger): TaskFeed {
  const subscribers = new Set<FeedSubscriber>()
  let queue: Promise<void> = Promise.resolve()

  hub.subscribe(taskChangesChannel, {
    notify(payload) {
      if (subscribers.size === 0) return
      let eventId: bigint
      try {
        eventId = BigInt((JSON.parse(payload) as { event_id: string }).event_id)
      } catch (error) {
        logger.warn({ err: error, payload }, 'stream: unreadable change notification')
        return
      }
      // Chained, so a slow read cannot let a later change overtake an earlier one.
      queue = queue.then(async () => {
        try {
          const row = await loadChange(prisma, eventId)
          if (row) for (const subscriber of subscribers) subscriber.change(row)
        } catch (error) {
          // The change is in the database: streams that missed it get it on resume.
          logger.warn({ err: error, eventId: String(eventId) }, 'stream: could not read a change')
          for (const subscriber of subscribers) subscriber.reset()
        }
      })
    },
    reset() {
      for (const subscriber of subscribers) subscriber.reset()
    },
  })

  return {
    subscribe(subscriber) {
      subscribers.add(subscriber)
      return () => subscribers.delete(subscriber)
    },
  }
}
