import type { PrismaClient } from './client.js'

export interface Readiness {
  ready: boolean
  database: 'ok' | 'unreachable'
  /** Shipped migrations not (successfully) applied to the database. */
  pending_migrations: string[]
}

/** Ready when the database answers and every migration this build ships is applied. */
export async function checkReadiness(
  prisma: PrismaClient,
  shippedMigrations: readonly string[],
): Promise<Readiness> {
  let applied: { migration_name: string }[]
  try {
    applied = await prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`
  } catch (error) {
    // A reachable database without the migrations table simply has nothing applied yet.
    if (isMissingTable(error))
      return { ready: false, database: 'ok', pending_migrations: [...shippedMigrations] }
    return { ready: false, database: 'unreachable', pending_migrations: [] }
  }
  const done = new Set(applied.map((row) => row.migration_name))
  const pending = shippedMigrations.filter((name) => !done.has(name))
  return { ready: pending.length === 0, database: 'ok', pending_migrations: pending }
}

function isMissingTable(error: unknown): boolean {
  return /_prisma_migrations|42P01|does not exist/.test(String((error as Error)?.message ?? error))
}
