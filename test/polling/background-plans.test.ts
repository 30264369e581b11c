/**
 * What the background sweeps ask of `tasks` every second must cost what they find, not what
 * the table holds: a large backlog of active tasks (PoYo slow, a burst of submissions) is
 * exactly when the sweeps must stay cheap. Checked with EXPLAIN ANALYZE on 20,000 tasks, as
 * the statements run from the service (named prepared statements, so generic plans too).
 */
import t, { type Test } from 'tap'
import { claimDueTasksSql, failOverdueTasks, overdueTasksSql } from '../../src/tasks/poll.js'
import { claimDueDeliveriesSql } from '../../src/webhooks/deliver.js'
import { buildTestApp } from '../helpers/app.js'
import { entriesRead, type ExplainRow, type PlanNode, planNodes, planShape } from '../helpers/plans.js'

const { runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const { prisma } = runtime.deps

// 15,000 active tasks with a day to go, 5,000 ended long past their deadline, and 30 active
// tasks past theirs (ids ending in their number, to check which were taken). The active ones
// are at PoYo and polled later, but for 30 whose poll is due; ended ones are not polled.
await prisma.$executeRaw`
  INSERT INTO tasks (id, model, status, input, client_scope, estimated_credits, deadline_at, created_at,
                     updated_at, finished_at, provider_task_id, next_poll_at)
  SELECT ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'hailuo-2.3',
         CASE WHEN i <= 5000 THEN (ARRAY['finished', 'failed'])[1 + i % 2]
              ELSE (ARRAY['queued', 'not_started', 'running'])[1 + i % 3] END::"TaskStatus",
         '{"prompt": "p"}', 'x', 10,
         CASE WHEN i <= 5000 THEN now() - interval '30 days'
              WHEN i > 19970 THEN now() - make_interval(mins => 20000 - i)
              ELSE now() + interval '1 day' END,
         now() - interval '40 days', now(),
         CASE WHEN i <= 5000 THEN now() - interval '30 days' END,
         CASE WHEN i > 5000 THEN 'poyo-' || i END,
         CASE WHEN i BETWEEN 19941 AND 19970 THEN now() - interval '1 minute'
              WHEN i > 5000 THEN now() + make_interval(mins => 10 + i % 60) END
  FROM generate_series(1, 20000) AS i`
// Deliveries for every task (two events each; at this size the UPDATE finds claimed rows by key): most delivered long ago, some
// pending for later, and 20 pending and due.
await prisma.$executeRaw`
  INSERT INTO webhook_deliveries (id, task_id, event, url, payload, status, next_attempt_at, created_at, updated_at)
  SELECT gen_random_uuid(), ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, e::"TaskStatus",
         'https://example.com/hook', '{}',
         CASE WHEN i <= 19900 THEN 'delivered' ELSE 'pending' END::"WebhookDeliveryStatus",
         CASE WHEN i <= 19900 THEN now() - interval '30 days'
              WHEN i > 19980 AND e = 'finished' THEN now() - interval '1 minute'
              ELSE now() + interval '1 hour' END,
         now() - interval '30 days', now()
  FROM generate_series(1, 20000) AS i, unnest(ARRAY['not_started', 'finished']) AS e`
await prisma.$executeRaw`VACUUM (ANALYZE) tasks`
await prisma.$executeRaw`VACUUM (ANALYZE) webhook_deliveries`

/** Thrown to roll back what EXPLAIN ANALYZE of a write did. */
class RolledBack extends Error {}

/**
 * The plan of `sql` as a prepared statement given `values`: custom, or generic as after five
 * runs. EXPLAIN ANALYZE runs it; whatever it writes is rolled back.
 */
async function planOf(sql: string, types: string[], values: string[], generic: boolean) {
  let plan: PlanNode[] = []
  await prisma
    .$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL plan_cache_mode = ${generic ? 'force_generic_plan' : 'auto'}`)
      await tx.$executeRawUnsafe(`PREPARE planned (${types.join(', ')}) AS ${sql}`)
      const [row] = await tx.$queryRawUnsafe<ExplainRow[]>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE planned (${values.join(', ')})`,
      )
      plan = planNodes(row!['QUERY PLAN'][0].Plan)
      throw new RolledBack()
    })
    .catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error
    })
  // PREPARE is not transactional.
  await prisma.$executeRawUnsafe('DEALLOCATE ALL')
  return plan
}

/** Index entries the plan's index scans touched: returned plus skipped by a filter. */
const indexEntriesRead = (all: PlanNode[]) =>
  entriesRead(all.filter((node) => node['Node Type'].startsWith('Index')))

/** Asserts that `all` reads `index` and no table in full. */
function readsOnly(t: Test, all: PlanNode[], index: string, exceptPkey = false) {
  const shape = planShape(all)
  t.notOk(
    all.some((node) => node['Node Type'].includes('Seq Scan')),
    `no sequential scan ${shape}`,
  )
  const scans = all.filter((node) => node['Node Type'].startsWith('Index'))
  t.ok(
    scans.some((scan) => scan['Index Name'] === index) &&
      scans.every(
        (scan) => scan['Index Name'] === index || (exceptPkey && scan['Index Name']?.endsWith('_pkey')),
      ),
    `reads ${index} ${shape}`,
  )
}

// Run unnamed, so planned for its values every time: a generic plan, blind to the LIMIT,
// hashes a read of every task to find the claimed ones again.
t.test('the poll sweep reads only the polled tasks that are due', async (t) => {
  const all = await planOf(
    claimDueTasksSql,
    ['timestamptz', 'timestamptz', 'int'],
    ["now() + interval '1 minute'", 'now()', '50'],
    false,
  )
  const shape = planShape(all)
  t.notOk(
    all.some((node) => node['Node Type'].includes('Seq Scan')),
    `no sequential scan ${shape}`,
  )
  // An index scan in its order, or a bitmap scan and a sort, as the estimates fall; the
  // UPDATE finds each claimed row again by its primary key.
  t.same(
    [...new Set(all.map((node) => node['Index Name']).filter(Boolean))].sort(),
    ['tasks_next_poll_at_manual', 'tasks_pkey'],
    `reads the partial index ${shape}`,
  )
  const due = all.filter((node) => node['Index Name'] === 'tasks_next_poll_at_manual')
  t.equal(entriesRead(due), 30, 'reads the 30 due tasks and nothing else')
  t.equal(all[0]?.['Actual Rows'], 30, 'and claims them')
})

for (const generic of [false, true]) {
  const plan = generic ? 'generic' : 'custom'

  t.test(`the deadline watch reads only overdue active tasks (${plan} plan)`, async (t) => {
    const all = await planOf(overdueTasksSql, ['timestamptz', 'int'], ['now()', '500'], generic)
    readsOnly(t, all, 'tasks_active_deadline_manual')
    t.equal(indexEntriesRead(all), 30, 'reads the 30 overdue tasks and nothing else')
  })

  t.test(`the webhook sweep reads only due pending deliveries (${plan} plan)`, async (t) => {
    const all = await planOf(
      claimDueDeliveriesSql,
      ['timestamptz', 'timestamptz', 'int'],
      ['now()', "now() + interval '1 minute'", '50'],
      generic,
    )
    // The UPDATE finds each claimed row again by its primary key.
    readsOnly(t, all, 'webhook_deliveries_due_manual', true)
    const due = all.filter((node) => node['Index Name'] === 'webhook_deliveries_due_manual')
    t.equal(indexEntriesRead(due), 20, 'reads the 20 due deliveries and nothing else')
    t.equal(all[0]?.['Actual Rows'], 20, 'and claims them')
  })
}

t.test('the deadline watch fails overdue active tasks, longest overdue first, and no others', async (t) => {
  t.equal(await failOverdueTasks(runtime.deps, 10), 10, 'a batch of 10')
  const failed = await prisma.task.findMany({
    where: { errorCode: 'deadline_exceeded' },
    select: { id: true },
    orderBy: { id: 'asc' },
  })
  t.same(
    failed.map((task) => Number(task.id.slice(-12))),
    Array.from({ length: 10 }, (_, i) => 19971 + i),
    'the ten whose deadlines passed first',
  )
  t.equal(await failOverdueTasks(runtime.deps), 20, 'then the other 20')
  t.equal(await failOverdueTasks(runtime.deps), 0, 'and none after them')
  t.equal(
    await prisma.task.count({ where: { status: { in: ['queued', 'not_started', 'running'] } } }),
    14_970,
    'active tasks within their deadline stay active',
  )
  t.equal(
    await prisma.task.count({ where: { finishedAt: { lt: new Date(Date.now() - 86_400_000) } } }),
    5000,
    'tasks that ended long ago are not touched',
  )
})
