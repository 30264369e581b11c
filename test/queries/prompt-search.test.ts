/**
 * Prompt search (`q`): the newest candidates are tested in time order first, and when they
 * hold less than a page the search walks back through the time-and-trigram index a week
 * (then a day) at a time. Checked on 20,000 tasks over about 12 weeks: every page equals a
 * plain ILIKE query's, whatever the window and the filters, and each statement reads the
 * index it was written for (EXPLAIN ANALYZE; small tables get sequential scans, which say
 * nothing).
 */
import t from 'tap'
import { inReadOnlyTransaction } from '../../src/db/client.js'
import { Prisma } from '../../src/generated/prisma/client.js'
import { listPage, type TaskFilters } from '../../src/queries/list-tasks.js'
import {
  hasTrigram,
  promptSearchProbe,
  promptSearchWindow,
  type SearchScope,
  searchStatements,
} from '../../src/queries/prompt-search.js'
import { visibleTasksSql } from '../../src/queries/scope.js'
import type { Caller } from '../../src/tasks/caller.js'
import { type ExplainRow, type PlanNode, planNodes, planShape } from '../helpers/plans.js'
import { listTestSetup } from './support.js'

const { prisma, client, admin, asClient } = await listTestSetup(t)

// One task every 370 s back from now (about 86 days), stored oldest first as the service
// stores them (a walk reads a week in table order). 'aardvark' is in every 1000th (20, in
// weeks of one or two); 'vintage' in every 20th of the oldest 5,000 (about 80 a week over
// three weeks, none since); 'common words' in all the others.
await prisma.$executeRaw`
  INSERT INTO tasks (id, model, status, input, client_scope, estimated_credits, deadline_at, created_at, updated_at, api_key_id)
  SELECT gen_random_uuid(),
         (ARRAY['kling-3.0/standard', 'kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/master'])[1 + i % 4],
         (ARRAY['not_started', 'running', 'finished', 'failed'])[1 + (i / 7) % 4]::"TaskStatus",
         jsonb_build_object('prompt', CASE WHEN i % 1000 = 0 THEN 'a rare aardvark '
                                           WHEN i > 15000 AND i % 20 = 0 THEN 'a vintage reel '
                                           ELSE 'common words ' END || i),
         'x', 10, now(), now() - make_interval(secs => i * 370), now(),
         CASE WHEN i % 3 = 0 THEN ${client.id}::uuid END
  FROM generate_series(20000, 1, -1) AS i`
// VACUUM too, as autovacuum would: it folds the trigram index's pending list in and updates
// the statistics its cost estimate reads (right after a bulk insert they price it far too high).
await prisma.$executeRaw`VACUUM (ANALYZE) tasks`

/** The ids a plain query returns, newest first: what every search must page through. */
async function expectedIds(caller: Caller, filters: TaskFilters): Promise<string[]> {
  const conditions = [
    visibleTasksSql(caller),
    Prisma.sql`task_prompt_text_manual(input) ILIKE ${`%${filters.q}%`}`,
    filters.status.length ? Prisma.sql`status::text IN (${Prisma.join(filters.status)})` : Prisma.sql`TRUE`,
    filters.model ? Prisma.sql`model = ${filters.model}` : Prisma.sql`TRUE`,
    filters.createdAfter ? Prisma.sql`created_at >= ${filters.createdAfter}` : Prisma.sql`TRUE`,
    filters.createdBefore ? Prisma.sql`created_at < ${filters.createdBefore}` : Prisma.sql`TRUE`,
  ]
  const rows = await prisma.$queryRaw<{ id: string }[]>(
    Prisma.sql`SELECT id FROM tasks WHERE ${Prisma.join(conditions, ' AND ')} ORDER BY created_at DESC, id DESC`,
  )
  return rows.map((row) => row.id)
}

/** Every page of a search, 25 at a time, following the cursor as the route does. */
async function pageThrough(caller: Caller, filters: TaskFilters, window: number): Promise<string[]> {
  const ids: string[] = []
  let after: { createdAt: Date; id: string } | null = null
  for (;;) {
    const tasks = await listPage(prisma, caller, filters, after, 26, window)
    ids.push(...tasks.slice(0, 25).map((task) => task.id))
    const last = tasks[24]
    if (tasks.length < 26 || !last) return ids
    after = { createdAt: last.createdAt, id: last.id }
  }
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000)

t.test('every page matches a plain query, whatever the window and the filters', async (t) => {
  const cases: [string, Caller, TaskFilters][] = [
    ['an old-only word', admin, { status: [], q: 'vintage' }],
    ['a rare word', admin, { status: [], q: 'AARDVARK' }],
    ['an old-only word, two statuses', admin, { status: ['finished', 'failed'], q: 'vintage' }],
    ['a rare word, one status', admin, { status: ['running'], q: 'aardvark' }],
    ['a phrase and a model', admin, { status: [], q: 'vintage reel 1', model: 'hailuo-2.3' }],
    ['an old-only word, as a client', asClient, { status: [], q: 'vintage' }],
    ['a common word, as a client', asClient, { status: ['failed'], q: 'common' }],
    // Busy weeks (every task matches): the walk reads the page's week again a day at a time.
    ['a common word over ten days', admin, { status: [], q: 'common', createdAfter: daysAgo(10) }],
    [
      'between two dates',
      admin,
      { status: [], q: 'vintage', createdAfter: daysAgo(75), createdBefore: daysAgo(70) },
    ],
    ['after a date no match is that recent', admin, { status: [], q: 'vintage', createdAfter: daysAgo(30) }],
    ['no match at all', admin, { status: [], q: 'no such words' }],
    // No three letters or digits in a row: no trigram to probe with, so no walk.
    ['an old-only pattern without a trigram', admin, { status: [], q: 'L 1' }],
  ]
  for (const [name, caller, filters] of cases) {
    const want = await expectedIds(caller, filters)
    for (const window of [1, 30, 400, promptSearchWindow])
      t.same(
        await pageThrough(caller, filters, window),
        want,
        `${name}, window ${window}: ${want.length} tasks`,
      )
  }
})

/** EXPLAIN ANALYZE of one statement, with the walk's settings when `walk` says so. */
async function explain(statement: Prisma.Sql, walk: boolean): Promise<PlanNode[]> {
  const text = `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`
  const rows = walk
    ? await inReadOnlyTransaction(
        prisma,
        { opening: 'SELECT 1', settings: searchStatements.walkSettings },
        (query) => query<ExplainRow>(text, statement.values),
      )
    : await prisma.$queryRawUnsafe<ExplainRow[]>(text, ...statement.values)
  return planNodes(rows[0]!['QUERY PLAN'][0].Plan)
}

const byTime = 'tasks_created_at_id_idx'
const byTimeAndTrigram = 'task_search_keys_manual'
const scopeOf = (caller: Caller, statuses: TaskFilters['status']): SearchScope => ({
  conditions: [visibleTasksSql(caller)],
  statuses,
})

t.test('a word the newest tasks have: the newest candidates answer, in time order', async (t) => {
  const { newestCandidatesStep, promptMatches } = searchStatements
  const all = await explain(
    newestCandidatesStep(scopeOf(admin, []), promptMatches('common words'), 21, 2000),
    false,
  )
  t.notOk(
    all.some((node) => node['Node Type'] === 'Seq Scan' || node['Node Type'].startsWith('Bitmap')),
    `no sequential or bitmap scan ${planShape(all)}`,
  )
  const timeOrdered = all.filter((node) => node['Index Name'] === byTime)
  t.ok(timeOrdered.length > 0, `reads ${byTime} ${planShape(all)}`)
  // Postgres 17 and later stop at the page (they know the window comes in order); 15 reads
  // the window whole and sorts it.
  const [{ version }] = await prisma.$queryRaw<[{ version: number }]>`
    SELECT current_setting('server_version_num')::int AS version`
  const bound = version >= 170000 ? 100 : promptSearchWindow
  t.ok(
    timeOrdered.every((node) => node['Actual Rows'] <= bound),
    `and at most ${bound} entries`,
  )
  t.equal(all[0]?.['Actual Rows'], 21, 'the page and one more')
})

t.test(
  'a word only old tasks have: the newest candidates in time order until none matches, then the walk',
  async (t) => {
    const { newestCandidatesStep, promptMatches } = searchStatements
    for (const statuses of [[], ['finished', 'failed']] as TaskFilters['status'][]) {
      const statement = newestCandidatesStep(
        scopeOf(admin, statuses),
        promptMatches('vintage'),
        21,
        promptSearchWindow,
      )
      const all = await explain(statement, false)
      // Candidates the time-ordered scans handed on (each tested against the prompt once).
      const tested = all
        .filter((node) => node['Node Type'] === 'Index Scan')
        .reduce((sum, scan) => sum + scan['Actual Rows'], 0)
      // None among the newest 500: the rest of the window is not read.
      t.ok(tested <= promptSearchProbe * Math.max(1, statuses.length), `tests ${tested} candidates`)
      t.notOk(
        all.some((node) => node['Index Name'] === byTimeAndTrigram),
        'not the trigram index',
      )
      const rows = await prisma.$queryRawUnsafe<{ searchAnswered: boolean; id: string | null }[]>(
        statement.text,
        ...statement.values,
      )
      t.same(
        rows,
        [{ ...rows[0], searchAnswered: false, id: null }],
        'one row that says the window did not answer',
      )
    }
  },
)

t.test("each step of the walk reads one week's or one day's keys of the search index", async (t) => {
  const { promptMatches, searchedPromptMatches, walkConditions, weeksStep, wholeWeekStep, daysStep } =
    searchStatements
  const [span] = await prisma.$queryRaw<{ oldest: Date; newest: Date; week: string }[]>`
    SELECT min(created_at) AS oldest, max(created_at) AS newest,
           (SELECT date_trunc('week', max(created_at) AT TIME ZONE 'UTC')::text FROM tasks
            WHERE task_prompt_text_manual(input) LIKE '%vintage%') AS week
    FROM tasks`
  const { oldest, newest, week } = span!
  const match = searchedPromptMatches('vintage')
  for (const [who, caller, statuses] of [
    ['admin', admin, []],
    ['a client', asClient, []],
    ['two statuses', admin, ['finished', 'failed']],
  ] as [string, Caller, TaskFilters['status']][]) {
    const where = walkConditions(scopeOf(caller, statuses))
    const steps: [string, Prisma.Sql, string][] = [
      ['weeks', weeksStep(where, match, newest, oldest, 42), 'week'],
      ['whole week', wholeWeekStep(where, match, week, 21), 'week'],
      ['days', daysStep(where, match, newest, week, 21), 'day'],
    ]
    for (const [step, statement, key] of steps) {
      const all = await explain(statement, true)
      const tableScans = ['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Index Scan']
      const scans = all.filter((node) => tableScans.includes(node['Node Type']))
      const [searched, lookedUp] = [
        scans.filter((node) => node['Index Name'] === byTimeAndTrigram),
        scans.filter((node) => node['Index Name'] === 'tasks_pkey'),
      ]
      t.ok(
        searched.length > 0 &&
          searched.length + lookedUp.length === scans.length &&
          searched.every((node) => node['Node Type'] === 'Bitmap Index Scan') &&
          lookedUp.every((node) => node['Index Cond'] === '(id = task_search.task_id)'),
        `${who}, ${step}: ${byTimeAndTrigram}, then tasks by id, no other index or table scan ${planShape(all)}`,
      )
      // The probe's keys, or (its arguments known when planned) the array they fold into.
      const span = key === 'week' ? 'w' : 'd'
      const probe = new RegExp(`task_search_probe_manual\\('${span}'|'\\{"?${span}\\d+:`)
      t.ok(
        scans.some((node) => probe.test(node['Index Cond'] ?? '')),
        `${who}, ${step}: by its ${key}'s keys ${JSON.stringify(scans.map((node) => node['Index Cond']))}`,
      )
      if (who === 'admin' && step !== 'weeks') {
        // The matches are sorted before they are looked up, so with nothing else to check
        // only the page's tasks are: not every match of the week or day.
        const lookups = lookedUp.reduce((sum, node) => sum + (node['Actual Loops'] ?? 1), 0)
        t.ok(lookups <= 21, `${who}, ${step}: looks up ${lookups} tasks, at most the page's 21`)
      }
    }
    // What the two ways of reading a week give: its newest matches, as a plain query has them.
    const newestOfWeek = (
      await prisma.$queryRaw<{ id: string }[]>(Prisma.sql`
        SELECT id FROM tasks WHERE ${where} AND ${promptMatches('vintage')}
          AND date_trunc('week', created_at AT TIME ZONE 'UTC') = ${week}::timestamp
        ORDER BY created_at DESC, id DESC LIMIT 21`)
    ).map((row) => row.id)
    for (const statement of [
      wholeWeekStep(where, match, week, 21),
      daysStep(where, match, newest, week, 21),
    ]) {
      const rows = await prisma.$queryRawUnsafe<{ id: string }[]>(statement.text, ...statement.values)
      t.same(
        rows.map((row) => row.id),
        newestOfWeek,
        `${who}: the week's newest matches`,
      )
    }
  }
})

t.test('a search walks only when its pattern has a trigram (three letters or digits in a row)', async (t) => {
  for (const q of ['abc', 'vintage reel', '100%', 'CAFÉ', 'é1x']) t.ok(hasTrigram(q), `${q}: walks`)
  for (const q of ['ab', 'a_e', '% %', 'L 1', 'é!']) t.notOk(hasTrigram(q), `${q}: reads every match once`)
})
