/**
 * With a backlog of submit jobs (a burst of tasks, or PoYo slow), each fetch of the next
 * jobs must read the jobs it takes, not the whole backlog: the consumer fetches every time
 * half its slots free up. pg-boss's own fetch statement, captured and explained on 5,000
 * waiting jobs.
 */
import pino from 'pino'
import t from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import { Queues, startJobQueue } from '../../src/db/job-queue.js'
import { createTestDatabase } from '../helpers/database.js'
import { type ExplainRow, planNodes } from '../helpers/plans.js'

const url = await createTestDatabase(t)
const queue = await startJobQueue(url, pino({ level: 'silent' }))
t.teardown(() => queue.stop({ graceful: false, wait: true }))

// 5,000 waiting jobs, plus 10 with a higher priority sent last: they must come first.
await queue.insert(Array.from({ length: 5000 }, (_, n) => ({ name: Queues.submit, data: { n } })))
await queue.insert(
  Array.from({ length: 10 }, (_, n) => ({ name: Queues.submit, data: { n: 5000 + n }, priority: 1 })),
)
await withPgClient(url, (client) => client.query('VACUUM (ANALYZE) pgboss.job'))

t.test('a fetch reads the jobs it takes in index order, not the backlog', async (t) => {
  let captured: { text: string; values: unknown[] } | null = null
  await queue.fetch(Queues.submit, {
    batchSize: 4,
    db: {
      executeSql: async (text, values) => {
        captured = { text, values }
        return { rows: [] }
      },
    },
  })
  if (!captured) throw new Error('no fetch statement captured')
  const { text, values } = captured as { text: string; values: unknown[] }
  const plan = await withPgClient(url, async (client) => {
    // EXPLAIN ANALYZE runs the fetch (it marks jobs active): rolled back.
    await client.query('BEGIN')
    try {
      const { rows } = await client.query<ExplainRow>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)
      return planNodes(rows[0]!['QUERY PLAN'][0].Plan)
    } finally {
      await client.query('ROLLBACK')
    }
  })
  const shape = JSON.stringify(plan.map((node) => node['Index Name'] ?? node['Node Type']))
  t.notOk(
    plan.some((node) => node['Node Type'] === 'Seq Scan'),
    `no sequential scan ${shape}`,
  )
  // Made on pgboss.job, the index is named after each queue's partition.
  const scans = plan.filter((node) => node['Index Name']?.endsWith('_name_priority_created_on_id_idx'))
  t.equal(scans.length, 1, `the jobs to take come from the fetch-order index ${shape}`)
  const read = scans.reduce(
    (sum, scan) => sum + scan['Actual Rows'] + (scan['Rows Removed by Filter'] ?? 0),
    0,
  )
  // Without it: all 5,010 waiting jobs read through job_i5, then sorted.
  t.ok(read <= 8, `reads about the 4 jobs it takes, not the backlog (${read} index entries)`)
})

t.test('jobs still come by priority first', async (t) => {
  const first = await queue.fetch<{ n: number }>(Queues.submit, { batchSize: 10 })
  t.same(
    first.map((job) => job.data.n).sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, n) => 5000 + n),
    'the 10 with a higher priority, sent last',
  )
  const next = await queue.fetch<{ n: number }>(Queues.submit, { batchSize: 10 })
  t.ok(next.length === 10 && next.every((job) => job.data.n < 5000), 'then the others')
})
