import type { PrismaClient } from '../db/client.js'
import type { Task, TaskEvent } from '../generated/prisma/client.js'
import { type Caller, visibleTasks } from '../tasks/caller.js'

/** A task event as clients see it; ids are 64-bit, so they travel as strings. */
export function toTaskEventResource(event: TaskEvent) {
  return {
    id: event.id.toString(),
    type: event.type,
    source: event.source,
    from_status: event.fromStatus,
    to_status: event.toStatus,
    payload: event.payload,
    created_at: event.createdAt.toISOString(),
  }
}

export type TaskChangeRow = TaskEvent & { task: Task }

/** One status change with its task, as the stream sends it. */
export function loadChange(prisma: PrismaClient, eventId: bigint): Promise<TaskChangeRow | null> {
  return prisma.taskEvent.findUnique({ where: { id: eventId }, include: { task: true } })
}

/** Status changes after `afterId` that `caller` may see, in id order (one page). */
export function changesAfter(
  prisma: PrismaClient,
  caller: Caller,
  afterId: bigint,
  take: number,
): Promise<TaskChangeRow[]> {
  return prisma.taskEvent.findMany({
    where: { type: 'status_changed', id: { gt: afterId }, task: { is: visibleTasks(caller) } },
    include: { task: true },
    orderBy: { id: 'asc' },
    take,
  })
}

/** The newest status change's id (0 when there is none): where a fresh stream starts. */
export async function latestChangeId(prisma: PrismaClient): Promise<bigint> {
  const { _max } = await prisma.taskEvent.aggregate({ where: { type: 'status_changed' }, _max: { id: true } })
  return _max.id ?? 0n
}
