/**
 * Upgrading a database that already holds tasks to the stats rollup: the migration marks
 * every hour with tasks dirty, so stats are right at once (counted live) and after the
 * first refresh (from the rollup).
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { applyMigrations, migrationsDir } from '../../src/db/migrations.js'
import { parseStatsQuery, taskStats } from '../../src/queries/stats.js'
import { refreshStats } from '../../src/stats/refresh.js'
import { createTestDatabase } from '../helpers/database.js'
import { liveTaskStats } from './live-stats.js'
import { insertTasks } from './support.js'

const firstRollupMigration = '20261123182215_stats_rollup'

t.test('tasks stored before the rollup existed are counted', async (t) => {
  const url = await createTestDatabase(t, { migrated: false })
  const before = await mkdtemp(join(tmpdir(), 'migrations-before-rollup-'))
  t.teardown(() => rm(before, { recursive: true, force: true }))
  for (const entry of await readdir(migrationsDir)) {
    if (entry < firstRollupMigration)
      await cp(join(migrationsDir, entry), join(before, entry), { recursive: true })
  }
  await applyMigrations(url, before)

  const prisma = createPrismaClient({ url, poolSize: 2 })
  t.teardown(() => disconnectPrisma(prisma))
  const created = Date.parse('2026-03-10T08:20:00Z')
  await insertTasks(prisma, [
    { model: 'hailuo-2.3', status: 'queued', createdAt: new Date(created), input: { prompt: 'a' } },
    {
      model: 'hailuo-2.3',
      status: 'finished',
      createdAt: new Date(created + 3_600_000),
      submittedAt: new Date(created + 3_602_000),
      finishedAt: new Date(created + 3 * 3_600_000),
      credits: 25,
      input: { prompt: 'b' },
    },
    {
      model: 'kling-2.1/pro',
      status: 'failed',
      createdAt: new Date(created + 86_400_000),
      input: { prompt: 'c' },
    },
  ])
  await applyMigrations(url)

  const admin = { role: 'admin' as const, apiKeyId: null, scope: 'admin' }
  const window = parseStatsQuery(
    { from: '2026-03-01T00:00:00Z', to: '2026-03-20T00:00:00Z', bucket: 'day' },
    new Date('2026-11-23T00:00:00Z'),
  )
  const live = await liveTaskStats(prisma, admin, window)
  t.equal(live.total, 3, 'the fixture is seen by the live count')
  t.same(await taskStats(prisma, admin, window), live, 'right before the first refresh')
  t.ok((await refreshStats(prisma)) > 0, 'the refresh takes in the old hours')
  t.same(await taskStats(prisma, admin, window), live, 'and after it')
})
