/**
 * The list query reads an index in the requested order and seeks straight to the cursor:
 * a deep page reads as few index entries as the first one. Checked with EXPLAIN ANALYZE on
 * 20,000 tasks (small tables get sequential scans, which say nothing). For common values the
 * planner may read the created_at index and skip non-matching entries (rows are stored in
 * time order, so that is cheap); for rare ones it must use the dedicated index.
 */
import t from 'tap'
import { Prisma } from '../../src/generated/prisma/client.js'
import { createPrismaClient, disconnectPrisma, queryRows } from '../../src/db/client.js'
import { listPage, listTasksSql, type TaskFilters } from '../../src/queries/list-tasks.js'
import type { Caller } from '../../src/tasks/caller.js'
import { entriesRead, type ExplainRow, planNodes } from '../helpers/plans.js'
import { listTestSetup } from './support.js'

const { prisma, client, admin, asClient, databaseUrl } = await listTestSetup(t)

await prisma.$executeRaw`
  INSERT INTO tasks (id, model, status, input, client_scope, estimated_credits, deadline_at, created_at, updated_at, api_key_id)
  SELECT gen_random_uuid(),
         (ARRAY['kling-3.0/standard', 'kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/master'])[1 + i % 4],
         CASE WHEN i % 200 = 0 THEN 'queued'
              ELSE (ARRAY['not_started', 'running', 'finished', 'failed'])[1 + (i / 7) % 4] END::"TaskStatus",
         jsonb_build_object('prompt', 'task ' || i),
         'x', 10, now(), now() - make_interval(secs => i * 37), now(),
         CASE WHEN i % 3 = 0 THEN ${client.id}::uuid END
  FROM generate_series(1, 20000) AS i`
// VACUUM ANALYZE, as autovacuum would: the plans depend on the statistics it gathers.
await prisma.$executeRaw`VACUUM (ANALYZE) tasks`

async function plan(caller: Caller, filters: TaskFilters, deep: boolean) {
  let after = null
  if (deep) {
    // Half-way down (at most 2000 tasks in): rare filters have fewer.
    const [row] = await prisma.$queryRaw<{ created_at: Date; id: string }[]>(
      Prisma.sql`SELECT created_at, id FROM (${listTasksSql(caller, filters, null, 100_000)}) page
                 JOIN tasks USING (id) ORDER BY created_at DESC, id DESC
                 OFFSET least(2000, (SELECT count(*) / 2 FROM (${listTasksSql(caller, filters, null, 100_000)}) c))
                 LIMIT 1`,
    )
    if (!row) throw new Error('no task matches')
    after = { createdAt: row.created_at, id: row.id }
  }
  const [result] = await prisma.$queryRaw<ExplainRow[]>(
    Prisma.sql`EXPLAIN (ANALYZE, FORMAT JSON) ${listTasksSql(caller, filters, after, 21)}`,
  )
  return planNodes((result as ExplainRow)['QUERY PLAN'][0].Plan)
}

const byTime = 'tasks_created_at_id_idx'
const byStatus = 'tasks_status_created_at_id_idx'
const cases: [string, Caller, TaskFilters, string[]][] = [
  ['no filters', admin, { status: [] }, [byTime]],
  ['a common status', admin, { status: ['finished'] }, [byStatus, byTime]],
  ['a rare status', admin, { status: ['queued'] }, [byStatus]],
  ['two statuses', admin, { status: ['queued', 'failed'] }, [byStatus, byTime]],
  ['model', admin, { status: [], model: 'hailuo-2.3' }, ['tasks_model_created_at_id_idx', byTime]],
  ['a client key', asClient, { status: [] }, ['tasks_api_key_id_created_at_id_idx', byTime]],
]

for (const [name, caller, filters, indexes] of cases) {
  t.test(`${name}: first and deep pages read ${indexes.join(' or ')} in order`, async (t) => {
    const read: number[] = []
    for (const deep of [false, true]) {
      const all = await plan(caller, filters, deep)
      const label = deep ? 'deep page' : 'first page'
      const shape = JSON.stringify(all.map((n) => n['Index Name'] ?? n['Node Type']))
      t.notOk(
        all.some((node) => node['Node Type'] === 'Seq Scan' || node['Node Type'].startsWith('Bitmap')),
        `${label}: no sequential or bitmap scan ${shape}`,
      )
      t.notOk(
        all.some((node) => node['Node Type'].includes('Sort')),
        `${label}: no sort (the index gives the order) ${shape}`,
      )
      const scans = all.filter((node) => node['Node Type'].startsWith('Index'))
      t.ok(
        scans.length > 0 && scans.every((scan) => indexes.includes(scan['Index Name'] ?? '')),
        `${label}: reads ${indexes.join(' or ')} ${shape}`,
      )
      if (deep)
        for (const scan of scans)
          t.match(scan['Index Cond'], /ROW\(created_at, id\) </, 'the cursor is an index condition')
      read.push(entriesRead(scans))
    }
    const [first = 0, deep = 0] = read
    t.ok(first <= 21 * 8, `the first page reads few index entries (${first})`)
    t.ok(deep <= first * 2 + 10, `a deep page reads about as many (${deep} vs ${first})`)
  })
}

t.test(
  "an admin's unfiltered pages and searches are planned once; a page by a value is planned for it",
  async (t) => {
    // One connection: prepared statements and their plans belong to a session.
    const db = createPrismaClient({ url: databaseUrl, poolSize: 1 })
    t.teardown(() => disconnectPrisma(db))
    const requests: [Caller, TaskFilters][] = [
      [admin, { status: [] }],
      [admin, { status: [], q: 'task 1' }],
      [admin, { status: ['queued'] }],
      [admin, { status: [], model: 'hailuo-2.3' }],
      [asClient, { status: [] }],
      [asClient, { status: [], q: 'task 1' }],
    ]
    const pages: string[][] = []
    for (let round = 0; round < 8; round++)
      for (const [i, [caller, filters]] of requests.entries()) {
        const ids = (await listPage(db, caller, filters, null, 21)).map((task) => task.id)
        if (round === 0) pages[i] = ids
        else t.same(ids, pages[i], `the same page every time (${JSON.stringify(filters)})`)
      }
    type Prepared = { name: string; statement: string; generic_plans: number; custom_plans: number }
    const prepared = await queryRows<Prepared>(
      db,
      `SELECT name, statement, generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name LIKE 'poyo_%'`,
      [],
    )
    const list = prepared.filter((row) => !row.statement.includes('WITH probe'))
    const search = prepared.filter((row) => row.statement.includes('WITH probe'))
    t.equal(list.length, 1, 'one list statement runs prepared: the unfiltered one')
    t.equal(search.length, 1, 'one first search step runs prepared: the unfiltered one')
    for (const row of prepared) {
      t.notMatch(
        row.statement,
        /status = |model = |api_key_id = /,
        'no statement with a value filter is prepared',
      )
      t.ok(
        row.generic_plans >= 2,
        `Postgres keeps one generic plan (${row.generic_plans} generic, ${row.custom_plans} custom)`,
      )
    }
    // The generic plan reads the created_at index in order, as the custom plans do.
    await queryRows(db, 'SET plan_cache_mode = force_generic_plan', [])
    const [explained] = await queryRows<ExplainRow>(
      db,
      `EXPLAIN (FORMAT JSON) EXECUTE ${list[0]?.name}(21)`,
      [],
    )
    const nodes = planNodes((explained as ExplainRow)['QUERY PLAN'][0].Plan)
    const shape = JSON.stringify(nodes.map((n) => n['Index Name'] ?? n['Node Type']))
    t.notOk(
      nodes.some((n) => n['Node Type'] === 'Seq Scan'),
      `no sequential scan ${shape}`,
    )
    t.ok(
      nodes.some((n) => n['Index Name'] === 'tasks_created_at_id_idx' && n['Node Type'].startsWith('Index')),
      `reads tasks_created_at_id_idx in order ${shape}`,
    )
  },
)

t.test('the prompt text function inlines and returns what the first version did', async (t) => {
  const inputs = [
    { prompt: 'a fox' },
    {},
    { prompt: 'opening', multi_prompt: [{ prompt: 'one' }, { prompt: 'two' }] },
    { multi_prompt: [{ prompt: 'only shots' }, { duration: 5 }] },
    { prompt: 'empty shots', multi_prompt: [] },
    { prompt: 'not a list', multi_prompt: { prompt: 'ignored' } },
    { prompt: 'shots without prompts', multi_prompt: [{ duration: 5 }] },
  ]
  const rows = await prisma.$queryRaw<{ now: string; first: string }[]>`
    SELECT task_prompt_text_manual(input) AS now,
           concat_ws(E'\n', input ->> 'prompt', (
             SELECT string_agg(shot ->> 'prompt', E'\n')
             FROM jsonb_array_elements(CASE jsonb_typeof(input -> 'multi_prompt')
                                       WHEN 'array' THEN input -> 'multi_prompt' ELSE '[]'::jsonb END) AS shot
           )) AS first
    FROM jsonb_array_elements(${JSON.stringify(inputs)}::jsonb) AS input`
  t.equal(rows.length, inputs.length)
  for (const [i, row] of rows.entries()) t.equal(row.now, row.first, JSON.stringify(inputs[i]))
  const plan = await prisma.$queryRaw<{ 'QUERY PLAN': string }[]>`
    EXPLAIN VERBOSE SELECT task_prompt_text_manual(input) FROM tasks`
  const text = plan.map((line) => line['QUERY PLAN']).join('\n')
  t.notMatch(text, /task_prompt_text_manual\(/, 'the planner expands the call (no function call per row)')
})
