import type { Prisma } from '../db/client.js'
import type { Task } from '../generated/prisma/client.js'
import type { TaskEventSource, TaskEventType } from '../generated/prisma/enums.js'
import { taskTransitionsTotal } from '../metrics.js'
import { toTaskResource } from './resource.js'
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
 * Queues the webhook message for a status change, in the transaction that made it, so a
 * change and its message exist together (at least once). A receiver that answered 410
 * for this task gets nothing more.
 */
async function queueWebhook(db: Db, task: Task, at: Date): Promise<void> {
  const stopped = await db.webhookDelivery.count({ where: { taskId: task.id, status: 'stopped' } })
  if (stopped > 0 || !task.webhookUrl) return
  await db.webhookDelivery.createMany({
    data: [
      {
        taskId: task.id,
        event: task.status,
        url: task.webhookUrl,
        payload: toTaskResource(task) as unknown as Prisma.InputJsonValue,
        nextAttemptAt: at,
        createdAt: at,
        updatedAt: at,
      },
    ],
    skipDuplicates: true,
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
  const [task] = await db.task.updateManyAndReturn({
    where: { id: args.taskId, status: args.from },
    data: { ...args.data, status: args.to, updatedAt: args.at },
  })
  if (!task) return false
  taskTransitionsTotal.inc({ from: args.from, to: args.to })
  if (task.webhookUrl && task.webhookEvents.includes(args.to)) await queueWebhook(db, task, args.at)
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
