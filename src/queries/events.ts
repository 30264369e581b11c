import { type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import { Prisma, type TaskEvent } from '../generated/prisma/client.js'
import type { Caller } from '../tasks/caller.js'
import { isoSql, taskResourceSql } from '../tasks/resource.js'
import { visibleTasksSql } from './scope.js'

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

/**
 * A status change as GET /v1/stream sends it: its event id, the key owning its task (who may
 * see it), and its `data`, the task and event resources as JSON, built by Postgres (the
 * resources' SQL twins) so a change costs the service no row objects of its own.
 */
export interface StreamChange {
  id: bigint
  apiKeyId: string | null
  data: string
}

/** The SQL twin of `toTaskEventResource` over the row `alias` of `task_events`. */
export function taskEventResourceSql(alias: string): string {
  const c = (column: string) => `${alias}.${column}`
  return `jsonb_build_object(
    'id', ${c('id')}::text, 'type', ${c('type')}, 'source', ${c('source')},
    'from_status', ${c('from_status')}, 'to_status', ${c('to_status')}, 'payload', ${c('payload')},
    'created_at', ${isoSql(c('created_at'))})`
}

const streamChangeColumns = `e.id::text AS id, t.api_key_id AS api_key_id,
  jsonb_build_object('task', ${taskResourceSql('t')}, 'event', ${taskEventResourceSql('e')})::text AS data
  FROM task_events e JOIN tasks t ON t.id = e.task_id`

const changesByIdSql = `SELECT ${streamChangeColumns} WHERE e.id = ANY ($1::bigint[])`
prepareStatement(changesByIdSql)

interface StreamChangeRow {
  id: string
  api_key_id: string | null
  data: string
}

const toStreamChange = (row: StreamChangeRow): StreamChange => ({
  id: BigInt(row.id),
  apiKeyId: row.api_key_id,
  data: row.data,
})

/** Status changes by event id, in one statement (in no particular order; ids not found left out). */
export async function loadChanges(prisma: PrismaClient, eventIds: bigint[]): Promise<StreamChange[]> {
  const rows = await queryRows<StreamChangeRow>(prisma, changesByIdSql, [eventIds.map(String)])
  return rows.map(toStreamChange)
}

/** Status changes after `afterId` that `caller` may see, in id order (one page). */
export async function changesAfter(
  prisma: PrismaClient,
  caller: Caller,
  afterId: bigint,
  take: number,
): Promise<StreamChange[]> {
  const page = Prisma.sql`SELECT ${Prisma.raw(streamChangeColumns)}
    WHERE e.type = 'status_changed' AND e.id > ${String(afterId)}::bigint AND ${visibleTasksSql(caller, 't')}
    ORDER BY e.id LIMIT ${take}::int`
  const rows = await queryRows<StreamChangeRow>(prisma, page.text, page.values)
  return rows.map(toStreamChange)
}

/** The newest status change's id (0 when there is none): where a fresh stream starts. */
export async function latestChangeId(prisma: PrismaClient): Promise<bigint> {
  const { _max } = await prisma.taskEvent.aggregate({ where: { type: 'status_changed' }, _max: { id: true } })
  return _max.id ?? 0n
}
