import type { AppDeps } from './app.js'
import { type Clock, systemClock } from './clock.js'
import type { Config } from './config.js'
import { createPrismaClient } from './db/client.js'
import { startEmbeddedPostgres } from './db/embedded.js'
import { applyMigrations, shippedMigrationNames } from './db/migrations.js'
import type { Logger } from './logger.js'

/** The app's dependencies, started, with one `close()` that stops them in reverse order. */
export interface Runtime {
  deps: AppDeps
  /** Where the database lives, for people (no credentials). */
  databaseLocation: string
  close(): Promise<void>
}

type Closer = { name: string; close: () => Promise<unknown> }

async function closeAll(closers: Closer[], logger: Logger): Promise<void> {
  for (const closer of closers.reverse()) {
    try {
      await closer.close()
    } catch (error) {
      logger.error({ err: error }, `closing ${closer.name} failed`)
    }
  }
}

export function describeDatabase(url: string): string {
  const parsed = new URL(url)
  return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`
}

/**
 * Starts what the app needs: the database (an embedded Postgres when DATABASE_URL is
 * unset), its migrations, and the Prisma client. The server and the tests both use this.
 */
export async function startRuntime(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<Runtime> {
  const closers: Closer[] = []
  try {
    let databaseUrl = config.DATABASE_URL
    let databaseLocation: string
    if (databaseUrl) {
      databaseLocation = `postgres at ${describeDatabase(databaseUrl)}`
    } else {
      const embedded = await startEmbeddedPostgres({
        dataDir: config.EMBEDDED_PG_DIR,
        port: config.EMBEDDED_PG_PORT,
      })
      closers.push({ name: 'embedded postgres', close: () => embedded.stop() })
      databaseUrl = embedded.url
      databaseLocation = `embedded postgres in ${embedded.dataDir} at 127.0.0.1:${embedded.port}`
    }
    logger.info({ database: databaseLocation }, `database: ${databaseLocation}`)

    if (config.MIGRATE_ON_START) {
      const applied = await applyMigrations(databaseUrl)
      logger.info(
        { applied },
        applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date',
      )
    }
    const shippedMigrations = await shippedMigrationNames()

    const prisma = createPrismaClient({ url: databaseUrl, poolSize: config.DATABASE_POOL_SIZE })
    closers.push({ name: 'prisma', close: () => prisma.$disconnect() })

    return {
      deps: { config, prisma, logger, clock, shippedMigrations },
      databaseLocation,
      close: () => closeAll(closers, logger),
    }
  } catch (error) {
    await closeAll(closers, logger)
    throw error
  }
}
