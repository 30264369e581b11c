/**
 * GET /v1/tasks against a few hundred tasks inserted directly: every filter and every
 * combination of them, paged, must return exactly the ids (and order) that an independent
 * SQL query over the same table returns. Real HTTP (inject) and a real database.
 */
import t from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import { buildTestApp } from '../helpers/app.js'
import { busyEnv, createKey, insertTasks, type SeedTask, seededRandom } from './support.js'

const { app, runtime, databaseUrl } = await buildTestApp(t, { ...busyEnv, WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
const admin = await createKey(prisma, 'admin')
const clientA = await createKey(prisma, 'client', 'client A')
const clientB = await createKey(prisma, 'client', 'client B')
const keyA = clientA.id
const keyB = clientB.id

const models = ['kling-3.0/standard', 'kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/master']
const statuses: TaskStatus[] = ['queued', 'not_started', 'running', 'finished', 'failed']
const prompts = [
  'A red fox in snow',
  'Neon city at night',
  'Ocean waves, 100% calm',
  'A snake_case robot dances',
  'Ärger im Café',
]
const base = Date.parse('2026-01-01T00:00:00.000Z')
const random = seededRandom(5)
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T

const seeds: SeedTask[] = []
for (let i = 0; i < 320; i++) {
  // Every eighth task shares the previous one's created_at: the id must break the tie.
  const previous = seeds.at(-1)
  const createdAt =
    i % 8 === 7 && previous ? previous.createdAt : new Date(base + Math.floor(random() * 30 * 86_400_000))
  const prompt = `${pick(prompts)} #${i}`
  const input =
    i % 5 === 0
      ? {
          multi_shots: true,
          multi_prompt: [
            { prompt: 'Opening shot', duration: 3 },
            { prompt, duration: 2 },
          ],
        }
      : { prompt, duration: 5 }
  seeds.push({
    model: pick(models),
    status: pick(statuses),
    createdAt,
    input,
    apiKeyId: pick([null, keyA, keyB]),
  })
}
await insertTasks(prisma, seeds)

type Query = Record<string, string | string[]>

interface Expected {
  status?: string[]
  model?: string
  created_after?: string
  created_before?: string
  client?: string
  q?: string
}

/** The same question asked independently: plain SQL, no trigram function, no ILIKE. */
async function expectedIds(filters: Expected, asKey?: string): Promise<string[]> {
  const sql = `
    SELECT id::text FROM tasks t
    WHERE ($1::text[] IS NULL OR t.status::text = ANY($1))
      AND ($2::text IS NULL OR t.model = $2)
      AND ($3::timestamptz IS NULL OR t.created_at >= $3)
      AND ($4::timestamptz IS NULL OR t.created_at < $4)
      AND ($5::uuid IS NULL OR t.api_key_id = $5)
      AND ($6::text IS NULL
           OR strpos(lower(coalesce(t.input->>'prompt', '')), lower($6)) > 0
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t.input->'multi_prompt', '[]')) s
                      WHERE strpos(lower(coalesce(s->>'prompt', '')), lower($6)) > 0))
      AND ($7::uuid IS NULL OR t.api_key_id = $7)
    ORDER BY t.created_at DESC, t.id DESC`
  const params = [
    filters.status ?? null,
    filters.model ?? null,
    filters.created_after ?? null,
    filters.created_before ?? null,
    filters.client ?? null,
    filters.q ?? null,
    asKey ?? null,
  ]
  return withPgClient(databaseUrl, async (client) => (await client.query(sql, params)).rows.map((r) => r.id))
}

function url(query: Query): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(query))
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, item)
  return `/v1/tasks?${search}`
}

/** Follows next_cursor to the end; returns every id in the order served. */
async function walk(query: Query, headers: Record<string, string> = admin.headers): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const response = await app.inject({ url: url({ ...query, ...(cursor ? { cursor } : {}) }), headers })
    if (response.statusCode !== 200) throw new Error(`${response.statusCode}: ${response.body}`)
    const body = response.json() as { data: { id: string }[]; next_cursor: string | null }
    ids.push(...body.data.map((task) => task.id))
    cursor = body.next_cursor
    if (!cursor) return ids
  }
  throw new Error('more than 100 pages')
}

const filterValues: Expected = {
  status: ['running', 'failed'],
  model: 'kling-3.0/pro',
  created_after: '2026-01-08T00:00:00.000Z',
  created_before: '2026-01-25T12:00:00.000Z',
  client: keyA,
  q: 'FOX',
}

t.test('every filter and every combination of filters matches SQL, paged, in order', async (t) => {
  const names = Object.keys(filterValues) as (keyof Expected)[]
  let nonEmpty = 0
  for (let mask = 0; mask < 2 ** names.length; mask++) {
    const chosen: Expected = {}
    for (const [bit, name] of names.entries())
      if (mask & (1 << bit)) Object.assign(chosen, { [name]: filterValues[name] })
    const expected = await expectedIds(chosen)
    const served = await walk({ ...(chosen as Query), limit: '13' })
    t.same(served, expected, `filters ${JSON.stringify(chosen)}: ${expected.length} tasks`)
    if (expected.length > 0) nonEmpty++
  }
  t.ok(nonEmpty >= 24, `most combinations select something (${nonEmpty} of 32)`)
})

t.test('status is repeatable, q matches multi_prompt prompts and wildcards literally', async (t) => {
  const cases: Expected[] = [
    { status: ['queued'] },
    { status: ['queued', 'not_started', 'finished'] },
    { q: 'opening shot' },
    { q: '100%' },
    { q: '%' },
    { q: 'snake_case' },
    { q: 'a_e' },
    { q: 'CAFÉ' },
    { q: 'no such words anywhere' },
    { model: 'no-such-model' },
  ]
  for (const filters of cases) {
    const expected = await expectedIds(filters)
    t.same(await walk({ ...(filters as Query), limit: '100' }), expected, `${JSON.stringify(filters)}`)
  }
  t.equal((await expectedIds({ q: 'opening shot' })).length, 64, 'multi_prompt tasks are found')
  t.ok((await expectedIds({ q: '%' })).length > 0, 'some prompts contain %')
  t.same(await expectedIds({ q: 'a_e' }), [], 'an underscore is not a wildcard')
  t.ok((await expectedIds({ q: 'CAFÉ' })).length > 0, 'a non-ASCII word is found in another case')
})

t.test('a client key sees only its own tasks and may not name another client', async (t) => {
  const mine = await walk({ limit: '50' }, clientA.headers)
  t.same(mine, await expectedIds({}, keyA))
  t.ok(mine.length > 50 && mine.length < seeds.length, `client A has ${mine.length} of ${seeds.length}`)
  t.same(
    await walk({ status: ['finished'], q: 'city' }, clientB.headers),
    await expectedIds({ status: ['finished'], q: 'city' }, keyB),
  )
  const response = await app.inject({ url: url({ client: keyB }), headers: clientA.headers })
  t.equal(response.statusCode, 400)
  t.match(response.json().errors, [{ parameter: 'client' }])
  t.equal(await prisma.task.count({ where: { apiKeyId: keyA } }), mine.length, 'visibleTasks agrees')
})

t.test('paging while new tasks arrive: no task missed or repeated', async (t) => {
  const before = await expectedIds({})
  const served: string[] = []
  const added: string[] = []
  let cursor: string | null = null
  do {
    const response = await app.inject({
      headers: admin.headers,
      url: url({ limit: '20', ...(cursor ? { cursor } : {}) }),
    })
    const body = response.json() as { data: { id: string }[]; next_cursor: string | null }
    served.push(...body.data.map((task) => task.id))
    cursor = body.next_cursor
    // Newer tasks, and one sharing the created_at of the page's last task.
    const last = await prisma.task.findUniqueOrThrow({ where: { id: served.at(-1) as string } })
    const fresh: SeedTask[] = [
      { model: 'hailuo-2.3', status: 'queued', createdAt: new Date(), input: { prompt: 'new' } },
      { model: 'hailuo-2.3', status: 'queued', createdAt: new Date(), input: { prompt: 'new' } },
      { model: 'hailuo-2.3', status: 'queued', createdAt: last.createdAt, input: { prompt: 'tie' } },
    ]
    added.push(...(await insertTasks(prisma, fresh)))
  } while (cursor)
  t.equal(new Set(served).size, served.length, 'no id served twice')
  const old = served.filter((id) => before.includes(id))
  t.same(old, before, 'every task that existed at the start, once, in order')
  t.ok(served.length - old.length <= added.length)
  t.ok(added.length >= 48, `${added.length} tasks arrived meanwhile`)
})

t.test('limit: default 20, 1..100', async (t) => {
  const pageSize = async (limit?: string) =>
    (await app.inject({ headers: admin.headers, url: url(limit ? { limit } : {}) })).json().data.length
  t.equal(await pageSize(), 20)
  t.equal(await pageSize('1'), 1)
  t.equal(await pageSize('100'), 100)
  const last = await app.inject({
    headers: admin.headers,
    url: url({ model: 'no-such-model', limit: '100' }),
  })
  t.same(last.json(), { data: [], next_cursor: null }, 'an empty result has no cursor')
})

t.test('invalid parameters are 400 problems naming the parameter', async (t) => {
  const first = await app.inject({ headers: admin.headers, url: url({ status: 'finished', limit: '2' }) })
  const cursor = first.json().next_cursor as string
  t.ok(cursor, 'a first page has a cursor')
  const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString())
  const tampered = Buffer.from(JSON.stringify({ ...decoded, i: 'not-a-uuid' })).toString('base64url')
  const cases: [Query, string][] = [
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ status: 'done' }, 'status'],
    [{ status: ['finished', 'bogus'] }, 'status'],
    [{ created_after: 'yesterday' }, 'created_after'],
    [{ created_before: '2026-13-01T00:00:00Z' }, 'created_before'],
    [{ created_after: '2026-02-01T00:00:00Z', created_before: '2026-01-01T00:00:00Z' }, 'created_before'],
    [{ client: 'someone' }, 'client'],
    [{ q: '' }, 'q'],
    [{ cursor: 'not a cursor!' }, 'cursor'],
    [{ cursor: Buffer.from('{"v":1}').toString('base64url') }, 'cursor'],
    [{ cursor: 'Zm9v' }, 'cursor'],
    [{ status: 'finished', cursor: tampered }, 'cursor'],
    [{ status: 'failed', cursor }, 'cursor'],
    [{ cursor }, 'cursor'],
    [{ stauts: 'finished' }, 'stauts'],
  ]
  for (const [query, parameter] of cases) {
    const response = await app.inject({ headers: admin.headers, url: url(query) })
    t.equal(response.statusCode, 400, `${JSON.stringify(query)} → 400`)
    t.match(response.headers['content-type'], /^application\/problem\+json/)
    const errors = (response.json().errors ?? []) as { parameter?: string }[]
    t.ok(
      errors.some((error) => error.parameter === parameter),
      `${JSON.stringify(query)} names ${parameter}: ${response.body}`,
    )
  }
  const same = await app.inject({
    headers: admin.headers,
    url: url({ status: 'finished', limit: '2', cursor }),
  })
  t.equal(same.statusCode, 200, 'the cursor works with its own filters')
})

t.test('a listed task is the resource GET /v1/tasks/:id serves, every field filled or not', async (t) => {
  // The newest tasks get every optional column; the list reads rows raw, the detail route through Prisma.
  await prisma.$executeRaw`
    UPDATE tasks SET provider_task_id = 'poyo-' || id, progress = 100, credits = 12,
      files = '[{"url": "https://files.poyo.sim/a.mp4", "type": "video"}]'::jsonb,
      metadata = '{"team": "video", "nested": {"n": 1}}'::jsonb,
      webhook_url = 'https://hooks.example.com/x', webhook_events = '{running,finished}',
      error_code = 'provider_failed', error_message = 'it broke', provider_error_code = 500,
      provider_error_type = 'generation', submitted_at = created_at + interval '1 second',
      started_at = created_at + interval '2 seconds', finished_at = created_at + interval '9 seconds',
      idempotency_key = 'key-' || id, submit_attempts = 2
    WHERE id IN (SELECT id FROM tasks ORDER BY created_at DESC, id DESC LIMIT 10)`
  const response = await app.inject({ url: '/v1/tasks?limit=20', headers: admin.headers })
  t.equal(response.statusCode, 200)
  const listed = (response.json() as { data: { id: string }[] }).data
  t.equal(listed.length, 20)
  for (const task of listed) {
    const detail = await app.inject({ url: `/v1/tasks/${task.id}`, headers: admin.headers })
    t.strictSame(task, detail.json(), `task ${task.id}`)
  }
  t.match(listed[0], { files: [{ type: 'video' }], metadata: { nested: { n: 1 } }, credits: 12 })
})
