import type { Static } from '@sinclair/typebox'
import { type PrismaClient, queryRows } from '../db/client.js'
import { Prisma, type Task } from '../generated/prisma/client.js'
import type { ListTasksQuery } from '../schemas/queries.js'
import type { Caller } from '../tasks/caller.js'
import type { TaskStatus } from '../tasks/status.js'
import { taskSelectList } from '../tasks/task-row.js'
import { decodeCursor, encodeCursor, filterFingerprint, type Position } from './cursor.js'
import { invalidParameter, parseInstant } from './params.js'
import { visibleTasksSql } from './scope.js'

export interface TaskFilters {
  status: TaskStatus[]
  model?: string
  createdAfter?: Date
  createdBefore?: Date
  /** API key id (admins only). */
  client?: string
  q?: string
}

export interface ListRequest {
  filters: TaskFilters
  limit: number
  after: Position | null
  fingerprint: string
}

/** Checks what the schema cannot (who may filter by client, date order, the cursor) and normalizes. */
export function parseListQuery(query: Static<typeof ListTasksQuery>, caller: Caller): ListRequest {
  if (query.client !== undefined && caller.role !== 'admin')
    throw invalidParameter('client', 'is for admin keys only: a client key always sees its own tasks')
  const filters: TaskFilters = { status: [...new Set(query.status ?? [])].sort() }
  if (query.model !== undefined) filters.model = query.model
  if (query.created_after !== undefined)
    filters.createdAfter = parseInstant('created_after', query.created_after)
  if (query.created_before !== undefined)
    filters.createdBefore = parseInstant('created_before', query.created_before)
  if (filters.createdAfter && filters.createdBefore && filters.createdAfter >= filters.createdBefore)
    throw invalidParameter('created_before', 'must be later than created_after')
  if (query.client !== undefined) filters.client = query.client.toLowerCase()
  if (query.q !== undefined) filters.q = query.q
  const fingerprint = filterFingerprint({
    status: filters.status,
    model: filters.model,
    created_after: filters.createdAfter?.toISOString(),
    created_before: filters.createdBefore?.toISOString(),
    client: filters.client,
    q: filters.q,
  })
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor, fingerprint)
  return { filters, limit: query.limit ?? 20, after, fingerprint }
}

/** `q` as a LIKE pattern (lowered in SQL): the user's text matches literally, wildcards included. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
}

/**
 * How many of the newest candidate rows a prompt search reads in time order before it turns
 * to the trigram index. Reading in time order finds a page of a common word at once, but the
 * planner assumes matches are spread evenly: for a word common only among old tasks it would
 * read every newer task first (seconds at 1M tasks). When the window holds less than a page,
 * the search takes all the matches from the trigram index instead, so it never reads more
 * than the window plus the matches.
 */
export const promptSearchWindow = 2000

/**
 * The ids of one page, newest first. Keyset pagination: the row comparison against the
 * previous page's last (created_at, id) is an index condition on the (…, created_at desc,
 * id desc) indexes, so a deep page costs what the first one does. Tasks created while a
 * client pages sort before its cursor, so they never shift later pages.
 */
export function listTasksSql(
  caller: Caller,
  filters: TaskFilters,
  after: Position | null,
  take: number,
  window = promptSearchWindow,
) {
  const conditions: Prisma.Sql[] = [visibleTasksSql(caller)]
  if (filters.model !== undefined) conditions.push(Prisma.sql`model = ${filters.model}`)
  if (filters.createdAfter)
    conditions.push(Prisma.sql`created_at >= ${filters.createdAfter.toISOString()}::timestamptz`)
  if (filters.createdBefore)
    conditions.push(Prisma.sql`created_at < ${filters.createdBefore.toISOString()}::timestamptz`)
  if (filters.client !== undefined) conditions.push(Prisma.sql`api_key_id = ${filters.client}::uuid`)
  if (after)
    conditions.push(
      Prisma.sql`(created_at, id) < (${after.createdAt.toISOString()}::timestamptz, ${after.id}::uuid)`,
    )
  const pattern = filters.q === undefined ? null : containsPattern(filters.q)
  const where = (extra: Prisma.Sql[]) => Prisma.join([...conditions, ...extra], ' AND ')
  const page = (extra: Prisma.Sql[]) =>
    pattern !== null
      ? promptSearchPage(where(extra), pattern, take, window)
      : Prisma.sql`
    SELECT id, created_at FROM tasks
    WHERE ${where(extra)}
    ORDER BY created_at DESC, id DESC
    LIMIT ${take}`
  const byStatus = filters.status.map((status) => [Prisma.sql`status = ${status}::"TaskStatus"`])
  if (byStatus.length <= 1) return Prisma.sql`SELECT id FROM (${page(byStatus[0] ?? [])}) AS page`
  // Several statuses: one ordered index scan per status, merged (a Merge Append), rather
  // than every matching row sorted (status IN (...) cannot be read in created_at order).
  const branches = byStatus.map((extra) => Prisma.sql`(${page(extra)})`)
  return Prisma.sql`
    SELECT id FROM (${Prisma.join(branches, ' UNION ALL ')}) AS page
    ORDER BY created_at DESC, id DESC
    LIMIT ${take}`
}

/**
 * A page of prompt matches in two steps: the newest `window` candidates (read in time order)
 * are tested first. When they hold less than a page and there are older candidates, the
 * page comes from all the matches instead, fetched through the trigram index (OFFSET 0 keeps
 * the LIMIT from steering it back to a time-ordered scan) and sorted. Which step answers is
 * decided once, before the second one reads anything.
 */
function promptSearchPage(where: Prisma.Sql, pattern: string, take: number, window: number) {
  // ILIKE as Postgres does it for UTF-8 (both sides lowered, then LIKE), on the prompts'
  // lowered text stored with the task and its trigram index (migration `prompt_search_column`).
  const match = Prisma.sql`prompt_search_manual LIKE lower(${pattern})`
  return Prisma.sql`
    SELECT id, created_at FROM (
      WITH recent AS MATERIALIZED (
        SELECT id, created_at, ${match} AS hit FROM tasks
        WHERE ${where}
        ORDER BY created_at DESC, id DESC
        LIMIT ${window}
      ), hits AS MATERIALIZED (
        SELECT id, created_at FROM recent WHERE hit ORDER BY created_at DESC, id DESC LIMIT ${take}
      ), answered AS MATERIALIZED (
        SELECT (SELECT count(*) FROM hits) = ${take} OR (SELECT count(*) FROM recent) < ${window} AS yes
      )
      SELECT id, created_at FROM hits WHERE (SELECT yes FROM answered)
      UNION ALL
      (SELECT id, created_at FROM (SELECT id, created_at FROM tasks WHERE ${where} AND ${match} OFFSET 0) AS every_match
       WHERE NOT (SELECT yes FROM answered)
       ORDER BY created_at DESC, id DESC
       LIMIT ${take})
    ) AS search
    ORDER BY created_at DESC, id DESC
    LIMIT ${take}`
}

/** One page of the tasks `caller` may see, and the position after it when there is more. */
export async function listTasks(
  prisma: PrismaClient,
  caller: Caller,
  request: ListRequest,
): Promise<{ tasks: Task[]; nextCursor: string | null }> {
  // One row more than asked tells whether another page exists. The page's ids and its rows
  // in one raw statement: a second round trip and a model query cost more than the search.
  const page = listTasksSql(caller, request.filters, request.after, request.limit + 1)
  const statement = Prisma.sql`
    SELECT ${Prisma.raw(taskSelectList)} FROM tasks
    WHERE id IN (SELECT id FROM (${page}) AS page)
    ORDER BY created_at DESC, id DESC`
  const rows = await queryRows<Task>(prisma, statement.text, statement.values)
  const tasks = rows.slice(0, request.limit)
  const last = tasks.at(-1)
  const nextCursor =
    rows.length > request.limit && last
      ? encodeCursor({ createdAt: last.createdAt, id: last.id }, request.fingerprint)
      : null
  return { tasks, nextCursor }
}
