import { Prisma } from '../generated/prisma/client.js'
import type { Caller } from '../tasks/caller.js'

/**
 * The SQL twin of `visibleTasks` (src/tasks/caller.ts) for raw queries over `tasks`:
 * admins see every task, clients their own. test/queries/list.test.ts checks the two agree.
 */
export function visibleTasksSql(caller: Caller, alias = 'tasks'): Prisma.Sql {
  const column = Prisma.raw(`${alias}.api_key_id`)
  if (caller.role === 'admin') return Prisma.sql`TRUE`
  if (caller.apiKeyId === null) return Prisma.sql`${column} IS NULL`
  return Prisma.sql`${column} = ${caller.apiKeyId}::uuid`
}

/** The in-memory twin of `visibleTasks`, for changes that arrive without a query. */
export function canSeeTask(caller: Caller, task: { apiKeyId: string | null }): boolean {
  return caller.role === 'admin' || task.apiKeyId === caller.apiKeyId
}
