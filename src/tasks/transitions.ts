import { coalesce, perClient } from '../db/coalesce.js'
import { type Prisma, prepareStatement, queryRows, queryRowsInLane } from '../db/client.js'
import type { TaskEventSource, TaskEventType } from '../generated/prisma/enums.js'
import { taskTransitionsTotal } from '../metrics.js'
import { uuidv7 } from '../ids.js'
import { taskChangesChannel } from '../stream/channel.js'
import { taskResourceSql } from './resource.js'
import type { TaskStatus } from './status.js'
import { type TaskChanges, taskChangesAssignments, taskChangesJson } from './task-changes.js'

type Db = Prisma.TransactionClient

/** An event to record about a task (the timeline's rows other than status changes). */
export interface TaskEventRecord {
  /** Status changes are written (and announced) by transitionsSql alone. */
  type: Exclude<TaskEventType, 'status_changed'>
  source: TaskEventSource
  payload: Record<string, unknown>
}

/**
 * Inserts the events of a JSON array in its order (`$1` the task, `$2` the time, `$3` the
 * events as {type, source, payload}): a statement of its own, or the first step of one that
 * also changes the task (see apply-report).
 */
export const insertEventsSql = `
  INSERT INTO task_events (task_id, type, source, payload, created_at)
  SELECT $1::uuid, (e ->> 'type')::"TaskEventType", (e ->> 'source')::"TaskEventSource", e -> 'payload', $2::timestamptz
  FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS r(e, ord)
  ORDER BY ord`
prepareStatement(insertEventsSql)

/** Records events in their order, in one statement (a raw one: every poll writes one, and Prisma's create costs several times its CPU). */
export async function recordEvents(
  db: Db,
  taskId: string,
  events: TaskEventRecord[],
  at: Date,
): Promise<void> {
  await queryRows(db, insertEventsSql, [taskId, at, JSON.stringify(events)])
}

export const recordEvent = (db: Db, taskId: string, event: TaskEventRecord, at: Date): Promise<void> =>
  recordEvents(db, taskId, [event], at)

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

/** NOTIFY's payload is at most 8000 bytes: 200 ids as text is under 5000. */
const maxIdsPerNotification = 200

/**
 * Many status changes in one statement: per row a compare-and-set UPDATE (`status = from`),
 * the `before` event and the `status_changed` event in that order, and the webhook message
 * when the task has one for `to`, unless its receiver answered 410 (see src/webhooks). The
 * change and its message are written together or not at all. Returns the `ord` of the rows
 * that moved.
 *
 * It is the only writer of `status_changed` events, and announces them for the live stream
 * itself: one notification on `task_changes` of up to 200 event ids, in id order (delivered
 * at commit). A trigger per row was a NOTIFY per change; one per statement on `task_events`
 * ran for every insert of other events too (a callback's, a poll's), about 50 µs each.
 */
export const transitionsSql = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
      ord int, task_id uuid, from_status "TaskStatus", to_status "TaskStatus", source "TaskEventSource",
      payload jsonb, at timestamptz, delivery_id uuid, before jsonb, changes jsonb)
  ), moved AS (
    UPDATE tasks t SET
      ${taskChangesAssignments('t', 'i.changes')},
      status = i.to_status, updated_at = i.at
    FROM input i
    WHERE t.id = i.task_id AND t.status = i.from_status
    RETURNING t.*, i.ord AS input_ord
  ), noted AS (
    INSERT INTO task_events (task_id, type, source, from_status, to_status, payload, created_at)
    SELECT task_id, type, source, from_status, to_status, payload, created_at FROM (
      SELECT i.ord, 1 AS step, i.task_id, (i.before ->> 'type')::"TaskEventType" AS type,
        (i.before ->> 'source')::"TaskEventSource" AS source, NULL::"TaskStatus" AS from_status,
        NULL::"TaskStatus" AS to_status, i.before -> 'payload' AS payload, i.at AS created_at
      FROM input i WHERE i.before IS NOT NULL
      UNION ALL
      SELECT i.ord, 2, i.task_id, 'status_changed', i.source, i.from_status, i.to_status, i.payload, i.at
      FROM moved JOIN input i ON i.ord = moved.input_ord
    ) events ORDER BY ord, step
    RETURNING id, type
  ), announced AS (
    SELECT pg_notify('${taskChangesChannel}', json_build_object('event_ids', ids)::text)
    FROM (
      SELECT part, json_agg(id::text ORDER BY id) AS ids
      FROM (
        SELECT id, (row_number() OVER (ORDER BY id) - 1) / ${maxIdsPerNotification} AS part
        FROM noted WHERE type = 'status_changed'
      ) changed
      GROUP BY part ORDER BY part
    ) notifications
  ), queued AS (
    INSERT INTO webhook_deliveries (id, task_id, event, url, payload, next_attempt_at, created_at, updated_at)
    SELECT i.delivery_id, moved.id, moved.status, moved.webhook_url, ${taskResourceSql('moved')},
      i.at, i.at, i.at
    FROM moved JOIN input i ON i.ord = moved.input_ord
    WHERE moved.webhook_url IS NOT NULL AND moved.status = ANY (moved.webhook_events)
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries stopped
        WHERE stopped.task_id = moved.id AND stopped.status = 'stopped')
    ON CONFLICT (task_id, event) DO NOTHING
  )
  -- Counting the notifications makes them run (a SELECT in WITH runs only as far as it is read).
  SELECT input_ord AS ord FROM moved CROSS JOIN (SELECT count(*) FROM announced) AS sent`
// One text for every batch: parsed and planned once per connection.
prepareStatement(transitionsSql)

/**
 * The one parameter of transitionsSql: the changes as a JSON array of rows, in task id order.
 * The statement updates the tasks in the order of its input (a nested loop over it, the plan
 * for any table past a few pages), so every batch locks the tasks it shares with another in
 * the same order: two batches (two instances' writers) then wait for each other. In the order
 * given, they could deadlock, and Postgres fails one after a second (deadlock_timeout).
 */
export const transitionsInput = (changes: TransitionArgs[]): string =>
  JSON.stringify(changes.map(inputRow).sort((a, b) => (a.task_id < b.task_id ? -1 : 1)))

const inputRow = (args: TransitionArgs, ord: number) => ({
  ord,
  task_id: args.taskId,
  from_status: args.from,
  to_status: args.to,
  source: args.source,
  payload: args.payload ?? {},
  at: args.at.toISOString(),
  delivery_id: uuidv7(args.at.getTime()),
  before: args.before ?? null,
  changes: taskChangesJson(args.data),
})

/** Applies `changes` in one statement; true for each that moved its task. Every row is its own compare-and-set. */
export async function transitionAll(db: Db, changes: TransitionArgs[]): Promise<boolean[]> {
  const rows = await queryRowsInLane<{ ord: number }>(db, 'transitions', transitionsSql, [
    transitionsInput(changes),
  ])
  const moved = new Set(rows.map((row) => row.ord))
  return changes.map((args, ord) => {
    if (!moved.has(ord)) return false
    taskTransitionsTotal.inc({ from: args.from, to: args.to })
    return true
  })
}

const transitionWriter = perClient((db: Db) =>
  coalesce<TransitionArgs, boolean>({
    kind: 'transition',
    // The next batch waits on the lane behind the running one, so Postgres starts it the
    // moment the first commits; once 16 wait, most of what arrives during a run under load
    // (about 25 callbacks a batch at 50 connections). Bursts of builds in turn: 11-13% more
    // callbacks a second than one batch at a time; two lanes (two writers) were slower.
    maxInFlight: 2,
    minBatchBehind: 16,
    // Two changes of one task in one statement would both match its row: they take turns.
    key: (args) => args.taskId,
    execute: (batch) => transitionAll(db, batch),
    // One bad row (a PoYo id another task already holds) must not fail the others.
    isolateFailures: true,
  }),
)

/**
 * Moves a task from `from` to `to`: a compare-and-set UPDATE, the `status_changed` event
 * (after `before`, when given) and the webhook message, if the task has one for `to`, in one
 * statement. Returns false, changing nothing but recording `before`, when the task is no
 * longer in `from` (someone else moved it). Concurrent changes of other tasks on the same
 * client share the statement (group commit); each row keeps its own compare-and-set.
 */
export function transition(db: Db, args: TransitionArgs): Promise<boolean> {
  return transitionWriter(db).run(args)
}
