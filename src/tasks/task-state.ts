import { coalesce, perClient } from '../db/coalesce.js'
import { type Prisma, prepareStatement, queryRowsInLane } from '../db/client.js'
import type { Task } from '../generated/prisma/client.js'

/** What judging and applying a report from PoYo needs to know about a task. */
export type TaskState = Pick<
  Task,
  'id' | 'status' | 'progress' | 'errorCode' | 'providerTaskId' | 'submittedAt' | 'startedAt' | 'pollAttempts'
>

interface TaskStateRow {
  id: string
  status: Task['status']
  progress: number
  error_code: string | null
  provider_task_id: string | null
  submitted_at: Date | null
  started_at: Date | null
  poll_attempts: number
}

const toState = (row: TaskStateRow): TaskState => ({
  id: row.id,
  status: row.status,
  progress: row.progress,
  errorCode: row.error_code,
  providerTaskId: row.provider_task_id,
  submittedAt: row.submitted_at === null ? null : new Date(row.submitted_at),
  startedAt: row.started_at === null ? null : new Date(row.started_at),
  pollAttempts: row.poll_attempts,
})

/** The read behind readTaskStates; $1 is an array of task ids. */
export const taskStatesSql = `
  SELECT id, status::text AS status, progress, error_code, provider_task_id, submitted_at, started_at, poll_attempts
  FROM tasks WHERE id = ANY ($1::uuid[])`
prepareStatement(taskStatesSql)

/** Reads the state of many tasks in one narrow raw query (a model query costs twice the CPU). */
export async function readTaskStates(
  db: Prisma.TransactionClient,
  taskIds: string[],
): Promise<(TaskState | null)[]> {
  const rows = await queryRowsInLane<TaskStateRow>(db, 'task_states', taskStatesSql, [taskIds])
  const byId = new Map(rows.map((row) => [row.id, toState(row)]))
  return taskIds.map((id) => byId.get(id) ?? null)
}

const stateReader = perClient((db: Prisma.TransactionClient) =>
  coalesce<string, TaskState | null>({
    kind: 'task_state',
    execute: (ids) => readTaskStates(db, ids),
    // Reads queue on their lane as they come, up to four: a callback then waits for its own
    // read, not for the one running to end first.
    maxInFlight: 4,
  }),
)

/**
 * A task's state. Concurrent reads on one client (callbacks arriving together) share one
 * query; each still sees every write that completed before it was asked.
 */
export function readTaskState(db: Prisma.TransactionClient, taskId: string): Promise<TaskState | null> {
  return stateReader(db).run(taskId)
}
