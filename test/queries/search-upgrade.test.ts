/**
 * The search table (task_search): upgrading a database that already holds tasks fills it,
 * every task stored afterwards gets its row in the statement that stores it, status changes
 * leave it alone, and a search finds old and new tasks alike by walking its index, exactly
 * the tasks whose prompts contain `q`.
 */
import t from 'tap'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { applyMigrations } from '../../src/db/migrations.js'
import { listPage } from '../../src/queries/list-tasks.js'
import { transitionAll } from '../../src/tasks/transitions.js'
import { createTestDatabase, databaseBefore } from '../helpers/database.js'
import type { Caller } from '../../src/tasks/caller.js'
import { insertTasks } from './support.js'

const searchMigration = '20261207130000_task_search'
const admin: Caller = { apiKeyId: null, role: 'admin', scope: 'admin' }

interface SearchRow {
  task_id: string
  created_at: Date
  prompt: string
}

t.test('tasks stored before the search table existed are searched, and so is every later one', async (t) => {
  const { url, prisma } = await databaseBefore(t, searchMigration)
  const at = (days: number) => new Date(Date.parse('2026-11-20T10:00:00Z') - days * 86_400_000)
  const old = await insertTasks(prisma, [
    { model: 'hailuo-2.3', status: 'finished', createdAt: at(30), input: { prompt: 'An Old GRAMOPHONE' } },
    { model: 'hailuo-2.3', status: 'running', createdAt: at(20), input: { prompt: 'a lighthouse' } },
    {
      model: 'kling-3.0/standard',
      status: 'failed',
      createdAt: at(10),
      input: { multi_prompt: [{ prompt: 'first shot' }, { prompt: 'a gramophone plays' }] },
    },
  ])
  await applyMigrations(url)

  const rows = () =>
    prisma.$queryRaw<SearchRow[]>`SELECT task_id, created_at, prompt FROM task_search ORDER BY created_at`
  t.same(
    await rows(),
    [
      { task_id: old[0], created_at: at(30), prompt: 'an old gramophone' },
      { task_id: old[1], created_at: at(20), prompt: 'a lighthouse' },
      { task_id: old[2], created_at: at(10), prompt: 'first shot\na gramophone plays' },
    ],
    'the migration copied every stored task: its id, created_at and lowered prompts',
  )

  const [added] = await insertTasks(prisma, [
    { model: 'hailuo-2.3', status: 'queued', createdAt: at(1), input: { prompt: 'New Gramophone' } },
  ])
  t.match(
    (await rows()).at(-1),
    { task_id: added, prompt: 'new gramophone' },
    'a task stored later has its row',
  )

  const moved = await transitionAll(prisma, [
    {
      taskId: old[1]!,
      from: 'running',
      to: 'finished',
      at: at(0),
      source: 'callback',
      data: { progress: 100 },
    },
  ])
  t.same(moved, [true])
  t.equal((await rows()).length, 4, 'a status change adds no row')

  // A window of one candidate: the newest tasks do not hold the page, so the search walks
  // back through task_search's index, week by week.
  const found = await listPage(prisma, admin, { q: 'gramophone', status: [] }, null, 10, 1)
  t.same(
    found.map((task) => task.id),
    [added, old[2], old[0]],
    'the search finds old and new tasks, newest first',
  )

  await prisma.task.delete({ where: { id: old[0]! } })
  t.equal((await rows()).length, 3, 'a deleted task takes its row with it')
})

t.test('the walk finds what LIKE finds, accents, case and punctuation included', async (t) => {
  const url = await createTestDatabase(t)
  const prisma = createPrismaClient({ url, poolSize: 2 })
  t.teardown(() => disconnectPrisma(prisma))
  const prompts = [
    'Un CAFÉ crème',
    'café noir, sans sucre',
    'a cafeteria',
    'Straße 12-b',
    'strasse 12b',
    'x1y2z3',
  ]
  const ids = await insertTasks(
    prisma,
    prompts.map((prompt, i) => ({
      model: 'hailuo-2.3',
      status: 'finished',
      createdAt: new Date(Date.parse('2026-11-20T10:00:00Z') - i * 3 * 86_400_000),
      input: { prompt },
    })),
  )
  for (const q of ['café', 'FÉ CR', 'é n', 'straße 1', 'SSE 12', '12-b', 'x1y2', 'afe']) {
    const expected = prompts.flatMap((prompt, i) =>
      prompt.toLowerCase().includes(q.toLowerCase()) ? [ids[i]] : [],
    )
    // A window of one candidate: the walk answers.
    const found = await listPage(prisma, admin, { q, status: [] }, null, 10, 1)
    t.same(
      found.map((task) => task.id),
      expected,
      `${q}: ${expected.length} tasks`,
    )
  }
})
