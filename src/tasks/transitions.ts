import type { Prisma } from '../db/client.js'
import { Prisma as Sql } from '../generated/prisma/client.js'
import type { TaskEventSource, TaskEventType } from '../generated/prisma/enums.js'
import { taskTransitionsTotal } from '../metrics.js'
import { uuidv7 } from '../ids.js'
import { taskResourceSql } from './resource.js'
import type { TaskStatus } from './status.js'
import { type TaskChanges, taskChangesSql } from './task-changes.js'

type Db = Prisma.TransactionClient

/** An event to record about a task (the timeline's rows other than status changes). */
export interface TaskEventRecord {
  type: TaskEventType
  source: TaskEventSource
  payload: Record<string, unknown>
}

export function recordEvent(db: Db, taskId: string, event: TaskEventRecord, at: Date): Promise<unknown> {
  const { type, source, payload } = event
  return db.taskEvent.create({
    data: { taskId, type, source, payload: payload as Prisma.InputJsonValue, createdAt: at },
  })
}

export interface TransitionArgs {
  taskId: string
  from: TaskStatus
  to: TaskStatus
  data: TaskChanges
  source: TaskEventSource
  payload?: Record<string, unknown>
  at: Date
  /** Recorded just before the status change, in the same statement, whether or not the task moves. */
  before?: TaskEventRecord
}

const eventRow = (taskId: string, event: TaskEventRecord, at: Date) => Sql.sql`
  SELECT 1 AS ord, ${taskId}::uuid AS task_id, ${event.type}::"TaskEventType" AS type,
    ${event.source}::"TaskEventSource" AS source, NULL::"TaskStatus" AS from_status,
    NULL::"TaskStatus" AS to_status, ${JSON.stringify(event.payload)}::jsonb AS payload,
    ${at.toISOString()}::timestamptz AS created_at
  UNION ALL`

// The webhook message for the change, unless the receiver answered 410 for this task (see
// src/webhooks): written by the statement that makes the change, so both exist or neither.
const webhookSql = (deliveryId: string, at: string) => Sql.sql`
  , queued AS (
    INSERT INTO webhook_deliveries (id, task_id, event, url, payload, next_attempt_at, created_at, updated_at)
    SELECT ${deliveryId}::uuid, moved.id, moved.status, moved.webhook_url, ${Sql.raw(taskResourceSql('moved'))},
      ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    FROM moved
    WHERE moved.webhook_url IS NOT NULL AND moved.status = ANY (moved.webhook_events)
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries stopped
        WHERE stopped.task_id = moved.id AND stopped.status = 'stopped')
    ON CONFLICT (task_id, event) DO NOTHING
  )`

/**
 * Moves a task from `from` to `to` in one statement: a compare-and-set UPDATE, the
 * `status_changed` event (after `before`, when given) and the webhook message, if the task
 * has one for `to`. Returns false, changing nothing but recording `before`, when the task
 * is no longer in `from` (someone else moved it).
 */
export async function transition(db: Db, args: TransitionArgs): Promise<boolean> {
  const at = args.at.toISOString()
  const sets = [
    ...taskChangesSql(args.data),
    Sql.sql`status = ${args.to}::"TaskStatus"`,
    Sql.sql`updated_at = ${at}::timestamptz`,
  ]
  const rows = await db.$queryRaw<{ id: string }[]>`
    WITH moved AS (
      UPDATE tasks SET ${Sql.join(sets, ', ')}
      WHERE id = ${args.taskId}::uuid AND status = ${args.from}::"TaskStatus"
      RETURNING tasks.*
    ), noted AS (
      INSERT INTO task_events (task_id, type, source, from_status, to_status, payload, created_at)
      SELECT task_id, type, source, from_status, to_status, payload, created_at FROM (
        ${args.before ? eventRow(args.taskId, args.before, args.at) : Sql.empty}
        SELECT 2 AS ord, id AS task_id, 'status_changed'::"TaskEventType" AS type,
          ${args.source}::"TaskEventSource" AS source, ${args.from}::"TaskStatus" AS from_status,
          ${args.to}::"TaskStatus" AS to_status, ${JSON.stringify(args.payload ?? {})}::jsonb AS payload,
          ${at}::timestamptz AS created_at
        FROM moved
      ) events ORDER BY ord
    )${webhookSql(uuidv7(args.at.getTime()), at)}
    SELECT id FROM moved`
  if (rows.length === 0) return false
  taskTransitionsTotal.inc({ from: args.from, to: args.to })
  return true
}
