import { createHash } from 'node:crypto'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { type Prisma, PrismaClient } from '../generated/prisma/client.js'

export type { Prisma } from '../generated/prisma/client.js'
export type { PrismaClient }

export interface DatabaseOptions {
  url: string
  poolSize: number
}

const statementNames = new Map<string, string>()

/**
 * Runs this exact SQL text as a named prepared statement from now on: parsed and planned
 * once per connection instead of at every call (pg-boss's job insert: about 0.6 ms less).
 * Only for a few hot statements whose plan does not depend on their parameters (a generic
 * plan could be a bad one for a filtered query); every other query stays unnamed.
 */
export function prepareStatement(sql: string): void {
  if (!statementNames.has(sql))
    statementNames.set(sql, `poyo_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`)
}

/** The node-postgres pool under each client createPrismaClient made. */
const pools = new WeakMap<object, pg.Pool>()

/** A Prisma client over node-postgres (driver adapter: no Rust query engine). */
export function createPrismaClient({ url, poolSize }: DatabaseOptions): PrismaClient {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 })
  // An idle connection that drops is removed and the next query reconnects; without a
  // listener the pool's 'error' event would end the process before Prisma adds its own.
  pool.on('error', () => {})
  const adapter = new PrismaPg(pool, {
    // $disconnect ends the pool, as it would a pool the adapter made itself.
    disposeExternalPool: true,
    // No name (undefined) leaves a query unnamed, exactly as without a generator.
    statementNameGenerator: (query) => statementNames.get(query.sql) as string,
  })
  const prisma = new PrismaClient({ adapter })
  pools.set(prisma, pool)
  return prisma
}

/**
 * Disconnects a client createPrismaClient made. Prisma ends the pool only if it ever used
 * it, so a client that ran nothing but queryRows would keep its connections open.
 */
export async function disconnectPrisma(prisma: PrismaClient): Promise<void> {
  await prisma.$disconnect()
  const pool = pools.get(prisma)
  if (pool && !pool.ending) await pool.end()
  // After the pool: a lane statement on a client whose pool is ending fails, so none reopens.
  await closeLanes(prisma)
}

/**
 * The rows of one raw statement ($1… placeholders). On a client createPrismaClient made, it
 * runs on that client's own pool, past Prisma's raw-query pipeline, which costs its caller
 * about 210 µs of CPU a call where node-postgres takes 70–100 µs (365 against 121 µs with a
 * 5.7 kB parameter, as a batch of status changes has). Inside a transaction, or on any
 * other client, it runs through Prisma. Rows come as node-postgres parses them: the same
 * values as Prisma's for the columns read this way (text, uuid, int, float8, bool, jsonb,
 * text[] and timestamptz), but int8 and numeric would come as strings.
 */
export async function queryRows<Row>(
  db: Prisma.TransactionClient,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  const pool = pools.get(db)
  if (!pool) return db.$queryRawUnsafe<Row[]>(text, ...values)
  const result = await pool.query<Row & pg.QueryResultRow>(queryConfig(text, values))
  return result.rows
}

/** The lanes of each client createPrismaClient made, by name: connecting or connected. */
const lanes = new WeakMap<object, Map<string, Promise<pg.Client>>>()

/**
 * Like `queryRows`, but on `lane`: a connection of the client's own, outside its pool, in
 * node-postgres' pipeline mode. A statement is sent at once, even while earlier ones on the
 * lane still run; Postgres runs them in order, each in its own implicit transaction, so one
 * that fails fails alone. A coalescer that queues its next batch on a lane behind the running
 * one keeps that backend busy, instead of idle for a round trip and for the JavaScript thread
 * between batches. A lane whose connection breaks fails what it holds; the next call opens a
 * new one. Inside a transaction, or on any other client, it runs through Prisma.
 */
export async function queryRowsInLane<Row>(
  db: Prisma.TransactionClient,
  lane: string,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  const pool = pools.get(db)
  if (!pool) return db.$queryRawUnsafe<Row[]>(text, ...values)
  if (pool.ending) throw new Error('the database client was disconnected')
  let open = lanes.get(db)
  if (!open) lanes.set(db, (open = new Map()))
  let connection = open.get(lane)
  if (!connection) {
    const opening = openLane(pool, (client) => retireLane(open, lane, opening, client))
    open.set(lane, (connection = opening))
  }
  const client = await connection
  try {
    const result = await client.query<Row & pg.QueryResultRow>(queryConfig(text, values))
    return result.rows
  } catch (error) {
    // A fatal error ends the session before the socket closes: nothing may be sent after it.
    const fatal =
      !(error instanceof pg.DatabaseError) || error.severity === 'FATAL' || error.severity === 'PANIC'
    if (fatal) retireLane(open, lane, connection, client)
    throw error
  }
}

/** Forgets a lane's connection (not a newer one of the same lane) and hangs up, once. */
function retireLane(
  open: Map<string, Promise<pg.Client>>,
  lane: string,
  connection: Promise<pg.Client>,
  client?: pg.Client,
): void {
  if (open.get(lane) !== connection) return
  open.delete(lane)
  void client?.end().catch(() => {})
}

/** A pipelined connection with the pool's settings; `retire` forgets it when it fails or ends. */
async function openLane(pool: pg.Pool, retire: (client?: pg.Client) => void): Promise<pg.Client> {
  const client = new pg.Client({ ...pool.options, pipeline: true })
  // Without a listener a dropped connection's 'error' would end the process.
  client.on('error', () => retire(client))
  client.on('end', () => retire())
  try {
    await client.connect()
  } catch (error) {
    retire()
    throw error
  }
  return client
}

/** Ends the lanes of a client; statements already sent on them finish first. */
async function closeLanes(db: object): Promise<void> {
  const open = lanes.get(db)
  if (!open) return
  const connections = [...open.values()]
  open.clear()
  await Promise.all(
    connections.map((connection) =>
      connection.then(
        (client) => client.end(),
        () => {},
      ),
    ),
  )
}

/** A statement as node-postgres runs it: named (prepared) when `prepareStatement` marked its text. */
function queryConfig(text: string, values: unknown[]): pg.QueryConfig {
  const name = statementNames.get(text)
  return name ? { name, text, values } : { text, values }
}

/** One statement's rows, as `queryRows` returns them, on the connection a helper holds. */
export type QueryOnConnection = <Row>(text: string, values?: unknown[]) => Promise<Row[]>

const settingPattern = /^[a-z_]+$/

/**
 * Runs `work` in one read-only transaction on one of the pool's connections: first the
 * `opening` statement (no parameters), then these settings (`SET LOCAL`: they end with the
 * transaction and never leak into the pool), all three in one round trip; then `work`, with
 * the opening's rows; statements marked with `prepareStatement` run prepared, as in
 * `queryRows`. For clients createPrismaClient made.
 */
export async function inReadOnlyTransaction<Opening, T>(
  db: PrismaClient,
  { opening, settings }: { opening: string; settings: Record<string, string> },
  work: (query: QueryOnConnection, opened: Opening[]) => Promise<T>,
): Promise<T> {
  const sets = Object.entries(settings).map(([name, value]) => {
    if (!settingPattern.test(name) || !settingPattern.test(value)) throw new Error(`bad setting ${name}`)
    return `SET LOCAL ${name} = ${value}`
  })
  const pool = pools.get(db)
  if (!pool) throw new Error('inReadOnlyTransaction needs a client made by createPrismaClient')
  const connection = await pool.connect()
  let broken: Error | undefined
  try {
    // Several statements in one simple query: node-postgres returns a result for each.
    const started = (await connection.query(
      ['BEGIN READ ONLY', opening, ...sets].join('; '),
    )) as unknown as pg.QueryResult[]
    const opened = started[1]?.rows as Opening[]
    const result = await work(async <Row>(text: string, values: unknown[] = []) => {
      const { rows } = await connection.query<Row & pg.QueryResultRow>(queryConfig(text, values))
      return rows
    }, opened)
    await connection.query('COMMIT')
    return result
  } catch (error) {
    // A failed transaction is rolled back; a connection that cannot do even that is dropped.
    await connection.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError
    })
    throw error
  } finally {
    connection.release(broken)
  }
}

/** Postgres' SQLSTATE of a failed statement, from node-postgres or through Prisma (P2010). */
export function sqlState(error: unknown): string | undefined {
  if (error instanceof pg.DatabaseError) return error.code
  const viaPrisma = error as {
    code?: unknown
    meta?: { driverAdapterError?: { cause?: { originalCode?: string } } }
  }
  return viaPrisma?.code === 'P2010' ? viaPrisma.meta?.driverAdapterError?.cause?.originalCode : undefined
}
