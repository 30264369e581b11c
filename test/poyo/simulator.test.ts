import t from 'tap'
import type { SimOverview } from '../../src/poyo/simulator/index.js'
import { buildSimulator, defaultFaults } from '../../src/poyo/simulator/index.js'
import { API_KEY, client, INPUT, MODEL, startSim } from './helpers.js'

const json = (body: unknown) => ({
  headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
  body: JSON.stringify(body),
})

t.test('fault switches over HTTP: GET, PUT (merge), reset', async (t) => {
  const { sim, url } = await startSim(t)
  const get = async () => (await fetch(`${url}/_sim/faults`)).json()
  t.same(await get(), defaultFaults())

  const put = await fetch(`${url}/_sim/faults`, {
    method: 'PUT',
    ...json({ submitStatus429: true, retryAfterSeconds: 5 }),
  })
  t.equal(put.status, 200)
  t.match(await put.json(), { submitStatus429: true, retryAfterSeconds: 5, slowMs: 0 })
  await fetch(`${url}/_sim/faults`, { method: 'PUT', ...json({ failTasks: ['kling-2.1/pro'] }) })
  t.match(
    await get(),
    { submitStatus429: true, failTasks: ['kling-2.1/pro'] },
    'a PUT only changes what it names',
  )
  t.match(sim.simulator.faults.get(), { submitStatus429: true }, 'the HTTP and programmatic views agree')
  const err = await client(url)
    .submit({ model: MODEL, input: INPUT })
    .catch((e: unknown) => e)
  t.match(err, { httpStatus: 429, retryAfterMs: 5000 })

  for (const bad of [
    { submitStatus5xx: 504 },
    { dropCallbacks: 2 },
    { submitStatus492: true },
    { slowMs: -1 },
  ]) {
    const res = await fetch(`${url}/_sim/faults`, { method: 'PUT', ...json(bad) })
    t.equal(res.status, 400, `rejects ${JSON.stringify(bad)}`)
    t.match(await res.json(), { code: 400, error: { type: 'validation_error' } })
  }
  t.throws(
    () => sim.simulator.faults.set({ dropCallbacks: 5 }),
    /invalid faults/,
    'programmatic set validates',
  )

  t.equal((await fetch(`${url}/_sim/reset`, { method: 'POST' })).status, 200)
  t.same(await get(), defaultFaults(), 'reset switches every fault off')
})

t.test('GET /_sim/tasks counts submits per model, including failed ones', async (t) => {
  const { url } = await startSim(t)
  const poyo = client(url)
  await poyo.submit({ model: MODEL, input: INPUT })
  await poyo.submit({ model: 'kling-2.5-turbo-pro', input: { prompt: 'x', duration: 7 } }).catch(() => {})
  await poyo.submit({ model: 'kling-2.5-turbo-pro', input: { prompt: 'a city at night' } })
  const overview = (await (await fetch(`${url}/_sim/tasks`)).json()) as SimOverview
  t.same(overview.submits, { total: 3, by_model: { [MODEL]: 1, 'kling-2.5-turbo-pro': 2 } })
  t.same(overview.created, { total: 2, by_model: { [MODEL]: 1, 'kling-2.5-turbo-pro': 1 } })
  t.equal(overview.tasks.length, 2)
  t.match(overview.tasks[1], { model: 'kling-2.5-turbo-pro', status: /not_started|running/, credits: 42 })
})

t.test('PoYo envelopes for auth, validation and unknown routes', async (t) => {
  const { url } = await startSim(t)
  const noKey = await fetch(`${url}/api/generate/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, input: INPUT }),
  })
  t.equal(noKey.status, 401)
  t.same(await noKey.json(), {
    code: 401,
    error: { message: 'Invalid or missing API key', type: 'authentication_error' },
  })

  const cases: Array<[unknown, RegExp]> = [
    [{ input: INPUT }, /model/],
    [{ model: MODEL }, /input/],
    [{ model: MODEL, input: INPUT, callback_url: 'ftp://x' }, /callback_url/],
    [{ model: MODEL, input: { prompt: 'x', duration: 7 } }, /duration/],
  ]
  for (const [body, message] of cases) {
    const res = await fetch(`${url}/api/generate/submit`, { method: 'POST', ...json(body) })
    t.equal(res.status, 400, JSON.stringify(body))
    t.match(await res.json(), { code: 400, error: { type: 'validation_error', message } })
  }
  const notJson = await fetch(`${url}/api/generate/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: '{nope',
  })
  t.equal(notJson.status, 400)

  const unknown = await fetch(`${url}/api/other`, { headers: { authorization: `Bearer ${API_KEY}` } })
  t.equal(unknown.status, 404)
  t.same(await unknown.json(), { detail: 'Not Found' })
})

t.test('without apiKey no auth is needed; validateInput can be replaced', async (t) => {
  const seen: string[] = []
  const { url } = await startSim(t, {
    apiKey: undefined,
    validateInput: (model) => {
      seen.push(model)
      return model === 'my-model'
        ? { ok: true, estimatedCredits: 7 }
        : { ok: false, message: 'only my-model' }
    },
    runMs: 0,
  })
  const poyo = client(url, { apiKey: 'anything' })
  const { taskId } = await poyo.submit({ model: 'my-model', input: {} })
  t.equal((await poyo.status(taskId)).creditsAmount, 7)
  t.match(await poyo.submit({ model: MODEL, input: INPUT }).catch((e: unknown) => e), {
    kind: 'final',
    message: 'only my-model',
  })
  t.same(seen, ['my-model', MODEL])
})

t.test('status follows the (injected) clock', async (t) => {
  let now = Date.UTC(2026, 0, 1)
  const sim = buildSimulator({ runMs: 1000, startDelayMs: 100, now: () => now, seed: 1 })
  t.teardown(() => sim.close())
  const submit = await sim.inject({
    method: 'POST',
    url: '/api/generate/submit',
    payload: { model: MODEL, input: INPUT },
  })
  const taskId = (submit.json() as { data: { task_id: string } }).data.task_id
  const at = async (offset: number) => {
    now = Date.UTC(2026, 0, 1) + offset
    const res = await sim.inject({ url: `/api/generate/status/${taskId}` })
    const { status, progress } = (res.json() as { data: { status: string; progress: number } }).data
    return [status, progress]
  }
  t.same(await at(0), ['not_started', 0])
  t.same(await at(99), ['not_started', 0])
  t.same(await at(100), ['running', 1])
  t.same(await at(550), ['running', 50])
  t.same(await at(999), ['running', 99])
  t.same(await at(1000), ['finished', 100])
  t.same(await at(5000), ['finished', 100])
})

t.test('close() does not wait for hung or slow answers', async (t) => {
  const sim = buildSimulator({ faults: { slowMs: 60_000 } })
  const url = await sim.listen({ port: 0, host: '127.0.0.1' })
  const pending = fetch(`${url}/api/generate/status/x`).then(
    (res) => res.status,
    () => 'error',
  )
  await new Promise((resolve) => setTimeout(resolve, 50))
  sim.simulator.faults.set({ slowMs: 0, acceptThenHang: true })
  const hung = fetch(`${url}/api/generate/submit`, {
    method: 'POST',
    ...json({ model: MODEL, input: INPUT }),
  }).catch(() => 'error')
  await new Promise((resolve) => setTimeout(resolve, 50))
  const started = Date.now()
  await sim.close()
  t.ok(Date.now() - started < 1000, 'closed promptly')
  t.ok(['error', 404, 503].includes(await pending), 'the slow request ended')
  t.equal(await hung, 'error', 'the hung submit was cut off')
})

t.test('task ids look like PoYo unified ids and are deterministic for a seed', async (t) => {
  const ids = async () => {
    const sim = buildSimulator({ seed: 99, now: () => 1_762_943_400_000 })
    t.teardown(() => sim.close())
    const res = await sim.inject({
      method: 'POST',
      url: '/api/generate/submit',
      payload: { model: MODEL, input: INPUT },
    })
    return (res.json() as { data: { task_id: string } }).data.task_id
  }
  const a = await ids()
  t.match(a, /^task-unified-1762943400-[a-z0-9]{8}$/)
  t.equal(await ids(), a)
})
