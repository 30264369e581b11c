import { randomBytes } from 'node:crypto'
import type { AppDeps } from './app.js'
import { bootstrapAdminKey } from './auth/api-keys.js'
import { type Clock, systemClock } from './clock.js'
import type { Config } from './config.js'
import { createPrismaClient, disconnectPrisma, type PrismaClient } from './db/client.js'
import { startEmbeddedPostgres } from './db/embedded.js'
import { startJobQueue } from './db/job-queue.js'
import { applyMigrations, shippedMigrationNames } from './db/migrations.js'
import type { Logger } from './logger.js'
import { observePoyoCall } from './metrics.js'
import { createPoyoClient } from './poyo/client.js'
import { buildSimulator, type SimulatorApp } from './poyo/simulator/index.js'
import { startWorkers } from './tasks/workers.js'
import { webhookUrlPolicy } from './webhooks/policy.js'

/** The app's dependencies, started, with one `close()` that stops them in reverse order. */
export interface Runtime {
  deps: AppDeps
  /** Where the database lives, for people (no credentials). */
  databaseLocation: string
  /** The in-process PoYo simulator, when POYO_API_KEY is unset. */
  simulator: SimulatorApp | null
  close(): Promise<void>
}

type Closer = { name: string; close: () => Promise<unknown> }

async function closeAll(closers: Closer[], logger: Logger): Promise<void> {
  for (const closer of closers.reverse()) {
    try {
      await closer.close()
      logger.debug(`closed ${closer.name}`)
    } catch (error) {
      logger.error({ err: error }, `closing ${closer.name} failed`)
    }
  }
}

export function describeDatabase(url: string): string {
  const parsed = new URL(url)
  return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`
}

async function resolveDatabase(
  config: Config,
  closers: Closer[],
): Promise<{ url: string; location: string }> {
  if (config.DATABASE_URL)
    return { url: config.DATABASE_URL, location: `postgres at ${describeDatabase(config.DATABASE_URL)}` }
  const embedded = await startEmbeddedPostgres({
    dataDir: config.EMBEDDED_PG_DIR,
    port: config.EMBEDDED_PG_PORT,
    callerHandlesSignals: true,
  })
  closers.push({ name: 'embedded postgres', close: () => embedded.stop() })
  return {
    url: embedded.url,
    location: `embedded postgres in ${embedded.dataDir} at 127.0.0.1:${embedded.port}`,
  }
}

/**
 * Prompt search folds case and splits words in SQL, which sees letters only in a UTF-8
 * database; elsewhere (SQL_ASCII: an embedded cluster made by an earlier release on a
 * machine without LANG) `q=CAFÉ` misses "café". The service still runs: the operator is told.
 */
async function warnUnlessUtf8(prisma: PrismaClient, logger: Logger): Promise<void> {
  const rows = await prisma.$queryRaw<
    { encoding: string }[]
  >`SELECT current_setting('server_encoding') AS encoding`.catch(() => [])
  const encoding = rows[0]?.encoding
  if (encoding && encoding !== 'UTF8')
    logger.warn(
      { encoding },
      `the database's encoding is ${encoding}, not UTF8: prompt search will not fold the case of ` +
        'non-ASCII letters (q=CAFÉ misses "café"); create the database with ENCODING UTF8 ' +
        '(an embedded cluster: move its data directory aside and start again)',
    )
}

/** PoYo itself when a key is configured, otherwise the bundled simulator on a loopback port. */
async function resolvePoyo(config: Config, logger: Logger, closers: Closer[]) {
  if (config.POYO_API_KEY)
    return { baseUrl: config.POYO_BASE_URL, apiKey: config.POYO_API_KEY, simulator: null }
  const apiKey = randomBytes(16).toString('hex')
  const simulator = buildSimulator({
    apiKey,
    runMs: config.SIMULATOR_RUN_MS,
    ...(config.POYO_WEBHOOK_SECRET ? { webhookSecret: config.POYO_WEBHOOK_SECRET } : {}),
  })
  const baseUrl = await simulator.listen({ host: '127.0.0.1', port: 0 })
  closers.push({ name: 'poyo simulator', close: () => simulator.close() })
  logger.warn(`POYO_API_KEY is not set: using the bundled PoYo simulator at ${baseUrl} (no real videos)`)
  return { baseUrl, apiKey, simulator }
}

export interface RuntimeOptions {
  clock?: Clock
  /** Receives the admin key created on a database without keys (printed once by the server; never logged). */
  onAdminKeyCreated?: (secret: string) => void
}

/**
 * Starts what the app needs: the database (an embedded Postgres when DATABASE_URL is
 * unset) and its migrations, the Prisma client, PoYo (or its simulator), the job queue
 * and this process's workers. The server and the tests both use this.
 */
export async function startRuntime(
  config: Config,
  logger: Logger,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const clock = options.clock ?? systemClock
  const closers: Closer[] = []
  try {
    const database = await resolveDatabase(config, closers)
    logger.info({ database: database.location }, `database: ${database.location}`)
    if (config.MIGRATE_ON_START) {
      const applied = await applyMigrations(database.url)
      logger.info(
        { applied },
        applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date',
      )
    }
    const shippedMigrations = await shippedMigrationNames()

    const prisma = createPrismaClient({ url: database.url, poolSize: config.DATABASE_POOL_SIZE })
    closers.push({ name: 'prisma', close: () => disconnectPrisma(prisma) })
    // Without the schema (migrations off and not yet applied) the service still starts, unready.
    const bootstrapped = await bootstrapAdminKey(prisma).catch((error: Error) => {
      logger.warn({ err: error }, 'could not check for API keys; is the database migrated?')
      return null
    })
    if (bootstrapped) options.onAdminKeyCreated?.(bootstrapped.secret)
    await warnUnlessUtf8(prisma, logger)

    const poyoTarget = await resolvePoyo(config, logger, closers)
    const poyo = createPoyoClient({
      baseUrl: poyoTarget.baseUrl,
      apiKey: poyoTarget.apiKey,
      timeoutMs: config.POYO_TIMEOUT_MS,
      logger: logger.child({ component: 'poyo' }),
      onCall: observePoyoCall,
    })

    const callbackSecret = config.CALLBACK_TOKEN_SECRET ?? randomBytes(32).toString('hex')
    if (!config.CALLBACK_TOKEN_SECRET) {
      logger.warn('CALLBACK_TOKEN_SECRET is not set: callback URLs are signed with a per-process key')
    }
    // The simulator runs beside us, so it can call us back on our own port.
    const callbackBaseUrl =
      config.PUBLIC_URL ?? (poyoTarget.simulator ? `http://127.0.0.1:${config.PORT}` : null)
    if (!callbackBaseUrl)
      logger.warn('PUBLIC_URL is not set: no callbacks are requested; tasks are tracked by polling')

    const queue = await startJobQueue(database.url, logger.child({ component: 'jobs' }))
    closers.push({
      name: 'job queue',
      close: () => queue.stop({ graceful: true, wait: true, timeout: config.SHUTDOWN_TIMEOUT_MS }),
    })
    const webhookPolicy = webhookUrlPolicy(config)
    const workerDeps = {
      prisma,
      poyo,
      queue,
      clock,
      logger,
      config,
      callbackBaseUrl,
      callbackSecret,
      webhookPolicy,
    }
    const workers = config.WORKERS_ENABLED ? await startWorkers(workerDeps) : null
    if (workers) closers.push({ name: 'workers', close: () => workers.stop() })

    return {
      deps: {
        config,
        databaseUrl: database.url,
        prisma,
        logger,
        clock,
        shippedMigrations,
        poyo,
        queue,
        callbackSecret,
        webhookPolicy,
        // Without workers here, the statement that stored the task told the instances that
        // have them (NOTIFY, see src/tasks/create-task.ts).
        wakeSubmitter: workers ? () => workers.wakeSubmitter() : () => {},
      },
      databaseLocation: database.location,
      simulator: poyoTarget.simulator,
      close: () => closeAll(closers, logger),
    }
  } catch (error) {
    await closeAll(closers, logger)
    throw error
  }
}
