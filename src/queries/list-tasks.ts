import type { Static } from '@sinclair/typebox'
import { type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import { Prisma, type Task } from '../generated/prisma/client.js'
import { type ListTasksQuery, listLimitMax } from '../schemas/queries.js'
import type { Caller } from '../tasks/caller.js'
import type { TaskStatus } from '../tasks/status.js'
import { taskSelectList } from '../tasks/task-row.js'
import { decodeCursor, encodeCursor, filterFingerprint, type Position } from './cursor.js'
import { invalidParameter, parseInstant } from './params.js'
import { promptSearchWindow, type SearchScope, searchTasks } from './prompt-search.js'
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

/** Every condition of a list request but status and `q`, as SQL over `tasks`. */
function listConditions(caller: Caller, filters: TaskFilters, after: Position | null): Prisma.Sql[] {
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
  return conditions
}

/**
 * The ids of one page without `q`, newest first. Keyset pagination: the row comparison
 * against the previous page's last (created_at, id) is an index condition on the (…,
 * created_at desc, id desc) indexes, so a deep page costs what the first one does. Tasks
 * created while a client pages sort before its cursor, so they never shift later pages.
 */
export function listTasksSql(caller: Caller, filters: TaskFilters, after: Position | null, take: number) {
  const conditions = listConditions(caller, filters, after)
  const page = (extra: Prisma.Sql[]) => Prisma.sql`
    SELECT id, created_at FROM tasks
    WHERE ${Prisma.join([...conditions, ...extra], ' AND ')}
    ORDER BY created_at DESC, id DESC
    LIMIT ${Prisma.raw(String(Math.max(take, pageRowsMax)))}`
  const byStatus = filters.status.map((status) => [Prisma.sql`status = ${status}::"TaskStatus"`])
  // The page's own LIMIT is a parameter; the one the index scan sees is a number, as a generic
  // plan needs (see planFree): with a parameter there the planner assumes a tenth of the table.
  if (byStatus.length <= 1)
    return Prisma.sql`
    SELECT id FROM (${page(byStatus[0] ?? [])}) AS page
    ORDER BY created_at DESC, id DESC
    LIMIT ${take}`
  // Several statuses: one ordered index scan per status, merged (a Merge Append), rather
  // than every matching row sorted (status IN (...) cannot be read in created_at order).
  const branches = byStatus.map((extra) => Prisma.sql`(${page(extra)})`)
  return Prisma.sql`
    SELECT id FROM (${Prisma.join(branches, ' UNION ALL ')}) AS page
    ORDER BY created_at DESC, id DESC
    LIMIT ${take}`
}

/** The most rows a list page reads: the largest `limit`, and one more to tell that another page exists. */
const pageRowsMax = listLimitMax + 1

/**
 * Whether a list's statements may run prepared, planned once per connection (a generic
 * plan): planning took 0.4 ms of a first page's 0.8 ms in Postgres. Only when no condition
 * picks rows by a value (status, model, client, or a client key's own tasks): their best
 * index depends on how common the value is (a rare status reads its own index, a common one
 * the created_at index), and a plan made for the average value would read the whole
 * created_at index for a rare one. Dates, the cursor and `q` read the created_at order
 * whatever their values.
 */
export function planFree(caller: Caller, filters: TaskFilters): boolean {
  return (
    caller.role === 'admin' &&
    filters.status.length === 0 &&
    filters.model === undefined &&
    filters.client === undefined
  )
}

/** The newest `take` tasks of a list request, prompt search included. */
export async function listPage(
  prisma: PrismaClient,
  caller: Caller,
  filters: TaskFilters,
  after: Position | null,
  take: number,
  window = promptSearchWindow,
): Promise<Task[]> {
  if (filters.q !== undefined) {
    const before = [after?.createdAt, filters.createdBefore]
      .filter((at): at is Date => at !== undefined)
      .sort((a, b) => a.getTime() - b.getTime())[0]
    const scope: SearchScope = {
      conditions: listConditions(caller, filters, after),
      statuses: filters.status,
    }
    if (before) scope.before = before
    if (filters.createdAfter) scope.after = filters.createdAfter
    return searchTasks(prisma, scope, filters.q, take, window, planFree(caller, filters))
  }
  // The page's ids and its rows in one raw statement: a second round trip and a model query
  // cost more than the search.
  const statement = Prisma.sql`
    SELECT ${Prisma.raw(taskSelectList)} FROM tasks
    WHERE id IN (SELECT id FROM (${listTasksSql(caller, filters, after, take)}) AS page)
    ORDER BY created_at DESC, id DESC`
  if (planFree(caller, filters)) prepareStatement(statement.text)
  return queryRows<Task>(prisma, statement.text, statement.values)
}

/** One page of the tasks `caller` may see, and the position after it when there is more. */
export async function listTasks(
  prisma: PrismaClient,
  caller: Caller,
  request: ListRequest,
): Promise<{ tasks: Task[]; nextCursor: string | null }> {
  // One row more than asked tells whether another page exists.
  const rows = await listPage(prisma, caller, request.filters, request.after, request.limit + 1)
  const tasks = rows.slice(0, request.limit)
  const last = tasks.at(-1)
  const nextCursor =
    rows.length > request.limit && last
      ? encodeCursor({ createdAt: last.createdAt, id: last.id }, request.fingerprint)
      : null
  return { tasks, nextCursor }
}
