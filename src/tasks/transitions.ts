import type { Prisma } from '../db/client.js'
import type { TaskEventSource, TaskEventType } from '../generated/prisma/enums.js'
import { taskTransitionsTotal } from '../metrics.js'
import type { TaskStatus } from './status.js'

type Db = Prisma.TransactionClient

export function recordEvent(
  db: Db,
  taskId: string,
  type: TaskEventType,
  source: TaskEventSource,
  payload: Record<string, unknown>,
  at: Date,
): Promise<unknown> {
  return db.taskEvent.create({
    data: { taskId, type, source, payload: payload as Prisma.InputJsonValue, createdAt: at },
  })
}

/**
 * Moves a task from `from` to `to` with one compare-and-set UPDATE and records the change.
 * Returns false, changing nothing, when the task is no longer in `from` (someone else moved it).
 */
export async function transition(
  db: Db,
  args: {
    taskId: string
    from: TaskStatus
    to: TaskStatus
    data: Prisma.TaskUpdateManyMutationInput
    source: TaskEventSource
    payload?: Record<string, unknown>
    at: Date
  },
): Promise<boolean> {
  const { count } = await db.task.updateMany({
    where: { id: args.taskId, status: args.from },
    data: { ...args.data, status: args.to, updatedAt: args.at },
  })
  if (count === 0) return false
  taskTransitionsTotal.inc({ from: args.from, to: args.to })
  await db.taskEvent.create({
    data: {
      taskId: args.taskId,
      type: 'status_changed',
      source: args.source,
      fromStatus: args.from,
      toStatus: args.to,
      payload: (args.payload ?? {}) as Prisma.InputJsonValue,
      createdAt: args.at,
    },
  })
  return true
}
