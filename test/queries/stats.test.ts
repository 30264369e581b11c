/**
 * GET /v1/stats on a small fixed data set whose every number is worked out by hand below,
 * on an empty window, and for a client key (its own tasks only). The first test checks the
 * answer before the stats rollup is refreshed (all live) and after; the rest use the rollup.
 */
import t, { type Test } from 'tap'
import { refreshStats } from '../../src/stats/refresh.js'
import { buildTestApp } from '../helpers/app.js'
import { createKey, insertTasks, type SeedTask } from './support.js'

const { app, runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
const admin = await createKey(prisma, 'admin')
const keyA = await createKey(prisma, 'client', 'A')
const keyB = await createKey(prisma, 'client', 'B')

const at = (time: string) => new Date(`2026-03-01T${time}Z`)
const A = 'kling-3.0/pro'
const B = 'hailuo-2.3'
const input = { prompt: 'x' }
//  #  created       model status      submitted → finished          credits key
// prettier-ignore
const tasks: SeedTask[] = [
  /* 1 */ { createdAt: at('00:10:00'), model: A, status: 'finished', submittedAt: at('00:10:00'), finishedAt: at('00:12:00'), credits: 10, apiKeyId: keyA.id, input },
  /* 2 */ { createdAt: at('00:20:00'), model: A, status: 'finished', submittedAt: at('00:21:00'), finishedAt: at('00:26:00'), credits: 20.5, apiKeyId: keyA.id, input },
  /* 3 */ { createdAt: at('00:50:00'), model: A, status: 'failed', submittedAt: at('00:50:00'), finishedAt: at('01:05:00'), apiKeyId: keyB.id, input },
  /* 4 */ { createdAt: at('02:30:00'), model: B, status: 'finished', submittedAt: at('02:30:00'), finishedAt: at('02:31:00'), credits: 5, input },
  /* 5 */ { createdAt: at('02:40:00'), model: B, status: 'running', submittedAt: at('02:40:00'), apiKeyId: keyB.id, input },
  /* 6 */ { createdAt: at('02:45:00'), model: B, status: 'queued', apiKeyId: keyA.id, input },
  /* 7 */ { createdAt: at('05:59:59.999'), model: A, status: 'finished', submittedAt: at('05:59:59.999'), finishedAt: at('06:00:30'), credits: 1, apiKeyId: keyA.id, input },
  // Created before the window, finished inside it: only the series counts it.
  /* 8 */ { createdAt: new Date('2026-02-28T23:59:59.999Z'), model: A, status: 'finished', submittedAt: at('00:00:00'), finishedAt: at('00:30:00'), credits: 100, input },
  // Created at the window's (exclusive) end.
  /* 9 */ { createdAt: at('06:00:00'), model: B, status: 'queued', input },
]
await insertTasks(prisma, tasks)

const window = 'from=2026-03-01T00:00:00Z&to=2026-03-01T06:00:00Z'
const get = (query: string, key = admin) => app.inject({ url: `/v1/stats?${query}`, headers: key.headers })
const counts = (queued: number, notStarted: number, running: number, finished: number, failed: number) => ({
  queued,
  not_started: notStarted,
  running,
  finished,
  failed,
})
const bucket = (hour: string, created: number, finished: number, failed: number) => ({
  start: `2026-03-01T${hour}:00:00.000Z`,
  created,
  finished,
  failed,
})

t.test('counts, success rate, credits, percentiles and hourly buckets (empty ones too)', async (t) => {
  for (const refreshed of [false, true]) {
    if (refreshed) await refreshStats(prisma)
    await checkHourly(t)
  }
})

async function checkHourly(t: Test) {
  const response = await get(`${window}&bucket=hour`)
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), {
    from: '2026-03-01T00:00:00.000Z',
    to: '2026-03-01T06:00:00.000Z',
    bucket: 'hour',
    total: 7,
    by_status: counts(1, 0, 1, 4, 1),
    success_rate: 0.8,
    credits: 36.5,
    by_model: [
      // Durations 120 s, 300 s, 30.001 s: p50 120, p95 120 + 0.9 × (300 − 120) = 282.
      // Exact from the rollup's histogram too: each duration has a bin of its own, and a
      // bin keeps its min and max (src/stats/histogram.ts).
      {
        model: B,
        total: 3,
        by_status: counts(1, 0, 1, 1, 0),
        success_rate: 1,
        credits: 5,
        p50_seconds: 60,
        p95_seconds: 60,
      },
      {
        model: A,
        total: 4,
        by_status: counts(0, 0, 0, 3, 1),
        success_rate: 0.75,
        credits: 31.5,
        p50_seconds: 120,
        p95_seconds: 282,
      },
    ],
    series: [
      bucket('00', 3, 3, 0),
      bucket('01', 0, 0, 1),
      bucket('02', 3, 1, 0),
      bucket('03', 0, 0, 0),
      bucket('04', 0, 0, 0),
      bucket('05', 1, 0, 0),
    ],
  })
}

t.test('a window starting mid-bucket counts only what is inside it', async (t) => {
  const response = await get('from=2026-03-01T00:15:00Z&to=2026-03-01T02:00:00Z')
  t.equal(response.json().bucket, 'hour', 'hours by default for short windows')
  t.same(response.json().series, [bucket('00', 2, 2, 0), bucket('01', 0, 0, 1)])
  t.equal(response.json().total, 2)
})

t.test('day buckets', async (t) => {
  const response = await get('from=2026-02-28T00:00:00Z&to=2026-03-03T00:00:00Z')
  t.equal(response.json().bucket, 'day', 'days by default beyond 48 hours')
  t.same(response.json().series, [
    { start: '2026-02-28T00:00:00.000Z', created: 1, finished: 0, failed: 0 },
    { start: '2026-03-01T00:00:00.000Z', created: 8, finished: 5, failed: 1 },
    { start: '2026-03-02T00:00:00.000Z', created: 0, finished: 0, failed: 0 },
  ])
  t.equal(response.json().credits, 136.5)
})

t.test('a client key counts its own tasks only', async (t) => {
  const response = await get(window, keyA)
  t.match(response.json(), {
    total: 4,
    by_status: counts(1, 0, 0, 3, 0),
    success_rate: 1,
    credits: 31.5,
    by_model: [
      { model: B, total: 1, success_rate: null, credits: 0, p50_seconds: null, p95_seconds: null },
      { model: A, total: 3, success_rate: 1, credits: 31.5, p50_seconds: 120, p95_seconds: 282 },
    ],
  })
  t.same(
    response.json().series.map((b: { created: number; finished: number }) => [b.created, b.finished]),
    [
      [2, 2],
      [0, 0],
      [1, 0],
      [0, 0],
      [0, 0],
      [1, 0],
    ],
  )
  t.equal((await get(window, keyB)).json().total, 2)
})

t.test('an empty window is all zeros, no rates, every bucket present', async (t) => {
  const response = await get('from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z')
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { total: 0, by_status: counts(0, 0, 0, 0, 0), success_rate: null, credits: 0, by_model: [] })
  t.equal(body.series.length, 24)
  t.ok(
    body.series.every((b: Record<string, unknown>) => b.created === 0 && b.finished === 0 && b.failed === 0),
  )
})

t.test('default window: the last 24 hours', async (t) => {
  const before = Date.now()
  const body = (await get('')).json()
  const to = Date.parse(body.to)
  t.ok(to >= before && to <= Date.now(), 'to is now')
  t.equal(to - Date.parse(body.from), 86_400_000)
  t.equal(body.bucket, 'hour')
  t.equal(body.series.length, to % 3_600_000 === 0 ? 24 : 25, 'every hour the window touches')
})

t.test('invalid windows are 400 problems naming the parameter', async (t) => {
  const cases: [string, string][] = [
    ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'from'],
    ['from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'from'],
    ['from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
    ['from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&bucket=hour', 'bucket'],
    ['bucket=week', 'bucket'],
    ['from=yesterday', 'from'],
    ['to=2026-02-30T00:00:00Z', 'to'],
    ['client=x', 'client'],
  ]
  for (const [query, parameter] of cases) {
    const response = await get(query)
    t.equal(response.statusCode, 400, `${query} → 400`)
    t.ok(
      (response.json().errors ?? []).some((e: { parameter?: string }) => e.parameter === parameter),
      `${query} names ${parameter}: ${response.body}`,
    )
  }
  t.equal(
    (await get('from=2025-02-01T00:00:00Z&to=2026-03-01T00:00:00Z')).statusCode,
    200,
    '393 days is fine',
  )
})
