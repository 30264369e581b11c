/**
 * queryRows runs hot raw statements on the client's own node-postgres pool, past Prisma:
 * it must give what Prisma's raw query gives, stay inside a transaction when handed one,
 * report Postgres' errors by SQLSTATE, and leave no connection open after disconnecting.
 * A lane (queryRowsInLane) is a pipelined connection beside the pool: statements queue on it
 * in order, each fails alone, and a broken one is replaced.
 */
import t from 'tap'
import {
  createPrismaClient,
  disconnectPrisma,
  inReadOnlyTransaction,
  prepareStatement,
  queryRows,
  queryRowsInLane,
  sqlState,
} from '../../src/db/client.js'
import { createTestDatabase } from '../helpers/database.js'

const url = await createTestDatabase(t)
const prisma = createPrismaClient({ url, poolSize: 2 })
t.teardown(() => disconnectPrisma(prisma))

const backendCount = async () => {
  const [row] = await prisma.$queryRawUnsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  )
  return row!.n
}

t.test('the values are those of Prisma’s raw query, for every type the hot statements read', async (t) => {
  const text = `
    SELECT $1::uuid AS id, $2::text AS name, $3::int AS count, $4::float8 AS ratio, true AS yes,
      $5::jsonb AS doc, ARRAY[$2::text, 'b']::text[] AS list, $6::timestamptz AS at,
      NULL::timestamptz AS never, 'queued'::"TaskStatus"::text AS status`
  const values = [
    '0190f0a0-0000-7000-8000-000000000001',
    'a',
    42,
    0.25,
    JSON.stringify({ nested: [1, 'two', null] }),
    '2026-12-03T08:00:00.123Z',
  ]
  const direct = await queryRows<Record<string, unknown>>(prisma, text, values)
  const viaPrisma = await prisma.$queryRawUnsafe<Record<string, unknown>[]>(text, ...values)
  t.same(direct, viaPrisma)
  t.ok(direct[0]!.at instanceof Date, 'a timestamptz is a Date')
  t.equal((direct[0]!.at as Date).toISOString(), '2026-12-03T08:00:00.123Z')
})

t.test('a statement marked for preparing runs as a named prepared statement', async (t) => {
  // One connection, so the check below sees the session that prepared it.
  const single = createPrismaClient({ url, poolSize: 1 })
  t.teardown(() => disconnectPrisma(single))
  const text = `SELECT $1::int + 1 AS next`
  prepareStatement(text)
  for (const n of [1, 2, 3]) t.same(await queryRows(single, text, [n]), [{ next: n + 1 }])
  const prepared = await queryRows<{ name: string }>(
    single,
    `SELECT name FROM pg_prepared_statements WHERE statement = $1`,
    [text],
  )
  t.match(prepared, [{ name: /^poyo_[0-9a-f]{24}$/ }])
})

t.test('inside a transaction it runs in that transaction', async (t) => {
  await prisma.$executeRawUnsafe(`CREATE TABLE query_rows_probe (n int)`)
  await prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`INSERT INTO query_rows_probe VALUES (7)`)
    t.same(await queryRows(tx, `SELECT n FROM query_rows_probe`, []), [{ n: 7 }], 'sees its own write')
    t.same(await queryRows(prisma, `SELECT n FROM query_rows_probe`, []), [], 'the pool does not, yet')
  })
  t.same(await queryRows(prisma, `SELECT n FROM query_rows_probe`, []), [{ n: 7 }], 'committed')
})

t.test('a failed statement reports its SQLSTATE, directly and through Prisma', async (t) => {
  await prisma.$executeRawUnsafe(`CREATE TABLE query_rows_unique (n int PRIMARY KEY)`)
  await queryRows(prisma, `INSERT INTO query_rows_unique VALUES (1)`, [])
  const direct = await queryRows(prisma, `INSERT INTO query_rows_unique VALUES (1)`, []).catch((e) => e)
  t.equal(sqlState(direct), '23505')
  const inTransaction = await prisma
    .$transaction((tx) => queryRows(tx, `INSERT INTO query_rows_unique VALUES (1)`, []))
    .catch((e) => e)
  t.equal(sqlState(inTransaction), '23505')
  t.equal(sqlState(new Error('not a database error')), undefined)
})

t.test('disconnecting a client that only ran queryRows closes its connections, lanes too', async (t) => {
  const before = await backendCount()
  const other = createPrismaClient({ url, poolSize: 2 })
  await Promise.all([queryRows(other, `SELECT pg_sleep(0.05)`, []), queryRows(other, `SELECT 1`, [])])
  await queryRowsInLane(other, 'probe', `SELECT 1`, [])
  t.equal(await backendCount(), before + 3, 'two pool connections and a lane while in use')
  await disconnectPrisma(other)
  // A backend leaves pg_stat_activity a moment after its client hangs up.
  let after = await backendCount()
  for (let i = 0; i < 50 && after > before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    after = await backendCount()
  }
  t.equal(after, before, 'none left after disconnecting')
  await t.rejects(
    queryRowsInLane(other, 'probe', `SELECT 1`, []),
    /disconnected/,
    'a late statement fails rather than opening a lane again',
  )
  t.equal(await backendCount(), before, 'and opens no connection')
})

t.test('a read-only transaction: its opening rows, its settings inside only, and no writes', async (t) => {
  // One connection, so what the transaction leaves behind is visible to the next statement.
  const single = createPrismaClient({ url, poolSize: 1 })
  t.teardown(() => disconnectPrisma(single))
  const setting = async () =>
    (await queryRows<{ value: string }>(single, `SELECT current_setting('enable_seqscan') AS value`, []))[0]!
      .value
  const seen = await inReadOnlyTransaction<{ n: number }, string[]>(
    single,
    { opening: 'SELECT 41 + 1 AS n', settings: { enable_seqscan: 'off' } },
    async (query, opened) => {
      t.same(opened, [{ n: 42 }], 'the opening statement’s rows')
      const [inside] = await query<{ value: string }>(`SELECT current_setting('enable_seqscan') AS value`)
      const [echo] = await query<{ v: string }>(`SELECT $1::text AS v`, ['x'])
      return [inside!.value, echo!.v]
    },
  )
  t.same(seen, ['off', 'x'], 'the setting holds inside, and statements take parameters')
  t.equal(await setting(), 'on', 'and is gone after it')

  await queryRows(single, `CREATE TABLE IF NOT EXISTS read_only_probe (n int)`, [])
  const write = inReadOnlyTransaction(single, { opening: 'SELECT 1', settings: {} }, (query) =>
    query(`INSERT INTO read_only_probe VALUES (1)`),
  )
  await t.rejects(write, { code: '25006' }, 'a write is refused (read-only transaction)')
  t.same(await queryRows(single, `SELECT count(*)::int AS n FROM read_only_probe`, []), [{ n: 0 }])
  t.equal(await setting(), 'on', 'the connection is back in the pool, out of the failed transaction')

  await t.rejects(
    inReadOnlyTransaction(single, { opening: 'SELECT 1', settings: { 'x; DROP': 'on' } }, async () => 0),
    /bad setting/,
    'setting names are checked, never spliced in as given',
  )
})

type Probe = { pid: number; at: Date }
const probeSql = (sleep: number) =>
  `SELECT pg_backend_pid() AS pid, clock_timestamp() AS at FROM pg_sleep(${sleep})`

t.test('statements on a lane run in their order on one connection of its own', async (t) => {
  const single = createPrismaClient({ url, poolSize: 1 })
  t.teardown(() => disconnectPrisma(single))
  const text = `SELECT $1::int * 2 AS twice`
  prepareStatement(text)
  // Sent together: the second and third wait on the lane behind the first.
  const slow = queryRowsInLane<Probe>(single, 'probe', probeSql(0.2), [])
  const prepared = Promise.all([1, 2].map((n) => queryRowsInLane(single, 'probe', text, [n])))
  const quick = queryRowsInLane<Probe>(single, 'probe', probeSql(0), [])
  const [pool] = await queryRows<{ pid: number }>(single, `SELECT pg_backend_pid() AS pid`, [])
  const [[first], [last]] = await Promise.all([slow, quick])
  t.same(await prepared, [[{ twice: 2 }], [{ twice: 4 }]], 'a prepared statement queued twice runs twice')
  t.equal(last!.pid, first!.pid, 'one connection')
  t.not(pool!.pid, first!.pid, 'not the pool’s: the pool’s one connection answered meanwhile')
  t.ok(last!.at >= first!.at, 'the quick one ran after the slow one had slept')
})

t.test('a statement that fails on a lane fails alone', async (t) => {
  const failing = queryRowsInLane(prisma, 'probe', `SELECT 1 / $1::int AS n`, [0])
  const after = queryRowsInLane(prisma, 'probe', `SELECT 1 / $1::int AS n`, [1])
  await t.rejects(failing, { code: '22012' }, 'division by zero')
  t.same(await after, [{ n: 1 }], 'the one queued behind it')
})

t.test('a lane whose connection breaks fails what it holds; the next statement opens another', async (t) => {
  const [{ pid }] = (await queryRowsInLane<Probe>(prisma, 'probe', probeSql(0), [])) as [Probe]
  const held = t.rejects(queryRowsInLane(prisma, 'probe', probeSql(5), []), { code: '57P01' })
  await queryRows(prisma, `SELECT pg_terminate_backend($1::int)`, [pid])
  await held
  // At once, before the connection's end is seen: the lane already knows it is gone.
  const [again] = await queryRowsInLane<Probe>(prisma, 'probe', probeSql(0), [])
  t.not(again!.pid, pid, 'a new connection')
})

t.test('in a transaction, a lane statement runs in the transaction', async (t) => {
  await prisma.$executeRawUnsafe(`CREATE TABLE lane_probe (n int)`)
  await prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`INSERT INTO lane_probe VALUES (3)`)
    t.same(await queryRowsInLane(tx, 'probe', `SELECT n FROM lane_probe`, []), [{ n: 3 }])
  })
})
