import PgBoss from 'pg-boss'
import type { Logger } from '../logger.js'
import { type Prisma, prepareStatement } from './client.js'

/** The queues of the service's durable background work. */
export const Queues = {
  /** One job per submit attempt of a task. */
  submit: 'task-submit',
  /** Periodic: poll due tasks and fail those past their deadline. */
  pollSweep: 'poll-sweep',
  /** Periodic: send the webhook messages that are due. */
  webhookSweep: 'webhook-sweep',
  /** Periodic: fold the stats dirty log into the stats rollup. */
  statsRefresh: 'stats-refresh',
} as const

export type QueueName = (typeof Queues)[keyof typeof Queues]

export type JobQueue = PgBoss

/** pg-boss on the service's own database: one Postgres is all the service needs. */
export async function startJobQueue(databaseUrl: string, logger: Logger): Promise<JobQueue> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    max: 4,
    application_name: 'poyo-task-service:jobs',
    // Schedules (cron) are not used; polling is driven by the sweep chain.
    schedule: false,
    // The sweep chains complete about 2 jobs a second; kept 12 h (the default), they made the
    // job tables that maintenance scans every 2 minutes 12 times larger.
    archiveCompletedAfterSeconds: 3600,
  })
  boss.on('error', (error: Error & { code?: string }) => {
    // 57P01: the server closed the connection (it is shutting down); pg-boss reconnects if it comes back.
    if (error.code === '57P01') logger.warn('job queue: the database closed a connection')
    else logger.error({ err: error }, 'job queue error')
  })
  await boss.start()
  // Submit attempts retry (with backoff) only when the database failed them; PoYo's own
  // answers are handled by the worker, which schedules its next attempt itself.
  await boss.createQueue(Queues.submit, {
    name: Queues.submit,
    retryLimit: 20,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: 300,
  })
  // Sweeps are chains: each run queues the next. `stately` keeps at most one waiting and one
  // running cluster-wide, so instances share one chain and the poll cap is global.
  for (const name of [Queues.pollSweep, Queues.webhookSweep, Queues.statsRefresh]) {
    await boss.createQueue(name, {
      name,
      policy: 'stately',
      retryLimit: 1000,
      retryDelay: 2,
      expireInSeconds: 300,
    })
  }
  await addFetchOrderIndex(boss)
  return boss
}

/**
 * pg-boss fetches the next jobs of a queue in (priority desc, created_on, id) order, but its
 * own fetch index (job_i5) is on (name, start_after): with a backlog every fetch read and
 * sorted all of it (42–112 ms at 20,000 waiting submit jobs), and the consumer fetches each
 * time half its slots free up. This index gives the order, so a fetch reads the jobs it
 * takes. Made on the partitioned parent, so every queue's partition has it, and again at
 * each start (IF NOT EXISTS), as pg-boss owns its schema and could drop it when it migrates.
 */
export const fetchOrderIndexSql = `
  CREATE INDEX IF NOT EXISTS job_fetch_order_manual ON pgboss.job (name, priority DESC, created_on, id)
  WHERE state < 'active'`

async function addFetchOrderIndex(boss: JobQueue): Promise<void> {
  await boss
    .getDb()
    .executeSql(fetchOrderIndexSql, [])
    .catch((error: { code?: string }) => {
      // Another instance starting at the same moment made it first (IF NOT EXISTS is not atomic).
      if (error.code !== '42P07' && error.code !== '23505') throw error
    })
}

/**
 * Sends a job inside a Prisma transaction, so the job exists exactly when the
 * transaction's other writes do (pg-boss runs its INSERT through our connection, as a
 * prepared statement: its text is the same for every job).
 */
export function sendInTransaction(
  queue: JobQueue,
  tx: Prisma.TransactionClient,
  name: QueueName,
  data: object,
  options: PgBoss.SendOptions = {},
): Promise<string | null> {
  return queue.send(name, data, {
    ...options,
    db: {
      executeSql: async (text, values) => {
        prepareStatement(text)
        return { rows: await tx.$queryRawUnsafe(text, ...values) }
      },
    },
  })
}

/** One SQL statement and its parameters ($1 … $n). */
export interface Statement {
  text: string
  values: unknown[]
}

/**
 * pg-boss's own statement for one job, as `send` would run it, without running it: a
 * caller can make it part of a larger statement of its own, so the job exists exactly when
 * that statement's other writes do, in one round trip instead of a transaction's four.
 * It is one `INSERT … RETURNING id` that inserts no row when the queue does not exist.
 * No send options: with singleton ones, pg-boss would try a second statement.
 */
export async function jobInsertStatement(queue: JobQueue, name: QueueName, data: object): Promise<Statement> {
  let captured: Statement | undefined
  await queue.send(name, data, {
    db: {
      executeSql: async (text, values) => {
        captured = { text, values }
        // No row: to pg-boss the job was not created, so it returns null and tries nothing else.
        return { rows: [] }
      },
    },
  })
  if (!captured || !/^\s*INSERT INTO\b/i.test(captured.text) || !/\bRETURNING id\s*$/i.test(captured.text))
    throw new Error("pg-boss's job insert is no longer one INSERT … RETURNING id")
  return captured
}

/**
 * The statement's text with $1 … $n renumbered from $offset+1, to follow `offset` parameters of
 * another statement; throws unless its placeholders are exactly $1 … $n for its n values.
 */
export function shiftPlaceholders(statement: Statement, offset: number): string {
  const seen = new Set<number>()
  const text = statement.text.replace(/\$(\d+)\b/g, (_, digits: string) => {
    seen.add(Number(digits))
    return `$${Number(digits) + offset}`
  })
  const expected = statement.values.map((_, index) => index + 1)
  if (seen.size !== expected.length || !expected.every((n) => seen.has(n)))
    throw new Error(`expected placeholders $1 … $${expected.length} in the statement`)
  return text
}
