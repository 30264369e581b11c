import Fastify from 'fastify'
import t from 'tap'
import { parseRetryAfter, readErrorBody } from '../../src/poyo/classify.js'
import { client, INPUT, MODEL, poyoError, startSim } from './helpers.js'

t.test('429 on submit: retryable, with Retry-After seconds', async (t) => {
  const { sim, url } = await startSim(t, { faults: { submitStatus429: true, retryAfterSeconds: 7 } })
  const err = await poyoError(t, () => client(url).submit({ model: MODEL, input: INPUT }))
  t.match(err, {
    kind: 'retryable',
    httpStatus: 429,
    code: 429,
    type: 'rate_limit_error',
    retryAfterMs: 7000,
  })
  t.equal(sim.simulator.overview().created.total, 0, 'no task was created')
})

t.test('500, 502, 503 on submit are retryable; 503 reads Retry-After', async (t) => {
  const { sim, url } = await startSim(t)
  const poyo = client(url)
  const types: Record<number, string> = { 500: 'internal_error', 502: 'upstream_error', 503: 'service_error' }
  for (const status of [500, 502, 503] as const) {
    sim.simulator.faults.set({ submitStatus5xx: status, retryAfterSeconds: 3 })
    const err = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
    t.match(err, { kind: 'retryable', httpStatus: status, type: types[status] }, `HTTP ${status}`)
    t.equal(err.retryAfterMs, status === 503 ? 3000 : undefined, `Retry-After on ${status}`)
  }
})

t.test('submitFailNext: the next n submits fail, then they succeed', async (t) => {
  const { sim, url } = await startSim(t, { faults: { submitStatus5xx: 502, submitFailNext: 2 } })
  const poyo = client(url)
  t.equal((await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))).httpStatus, 502)
  t.equal((await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))).httpStatus, 502)
  const ok = await poyo.submit({ model: MODEL, input: INPUT })
  t.type(ok.taskId, 'string')
  const overview = sim.simulator.overview()
  t.equal(overview.submits.by_model[MODEL], 3, 'three submits seen')
  t.equal(overview.created.by_model[MODEL], 1, 'one task created')
})

t.test('400 validation_error from the model catalog is final and keeps PoYo message', async (t) => {
  const { url } = await startSim(t)
  const poyo = client(url)
  const err = await poyoError(t, () =>
    poyo.submit({ model: MODEL, input: { prompt: 'x', duration: 10, resolution: '1080p' } }),
  )
  t.match(err, { kind: 'final', httpStatus: 400, type: 'validation_error' })
  t.match(err.message, /1080p is only available with duration 6/)

  const unknown = await poyoError(t, () => poyo.submit({ model: 'no-such-model', input: INPUT }))
  t.match(unknown, { kind: 'final', httpStatus: 400, type: 'validation_error', message: /unknown model/ })
})

t.test('402 insufficient_credits_error and 403 are final with type and message', async (t) => {
  const { sim, url } = await startSim(t)
  const poyo = client(url)
  sim.simulator.faults.set({
    submitFinalError: { status: 402, message: 'Not enough credits: need 35, have 3' },
  })
  const credits = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(credits, {
    kind: 'final',
    httpStatus: 402,
    type: 'insufficient_credits_error',
    message: 'Not enough credits: need 35, have 3',
  })
  sim.simulator.faults.set({ submitFinalError: { status: 403 } })
  const denied = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(denied, { kind: 'final', httpStatus: 403, type: 'permission_denied_error' })
  t.equal(denied.retryAfterMs, undefined)
})

t.test('401: a wrong key is an auth error on both endpoints', async (t) => {
  const { url } = await startSim(t)
  const poyo = client(url, { apiKey: 'sk-wrong-key-123' })
  const submit = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(submit, { kind: 'auth', httpStatus: 401, type: 'authentication_error' })
  const status = await poyoError(t, () => poyo.status('task-x'))
  t.match(status, { kind: 'auth', httpStatus: 401 })
})

t.test('404 on status: not_found in both envelopes', async (t) => {
  const { sim, url } = await startSim(t)
  const poyo = client(url)
  const detail = await poyoError(t, () => poyo.status('task-unknown'))
  t.match(detail, { kind: 'not_found', httpStatus: 404, message: 'Task not found' })
  t.equal(detail.type, undefined, 'the detail envelope has no type')

  sim.simulator.faults.set({ notFoundEnvelope: 'error' })
  const envelope = await poyoError(t, () => poyo.status('task-unknown'))
  t.match(envelope, { kind: 'not_found', httpStatus: 404, code: 404, type: 'resource_not_found_error' })
})

t.test('status 429 and 5xx are retryable', async (t) => {
  const { sim, url } = await startSim(t)
  const poyo = client(url)
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT })
  sim.simulator.faults.set({ status429: true, retryAfterSeconds: 2 })
  t.match(await poyoError(t, () => poyo.status(taskId)), {
    kind: 'retryable',
    httpStatus: 429,
    retryAfterMs: 2000,
  })
  sim.simulator.faults.set({ status429: false, statusStatus5xx: 500, statusFailNext: 1 })
  t.match(await poyoError(t, () => poyo.status(taskId)), { kind: 'retryable', httpStatus: 500 })
  t.equal((await poyo.status(taskId)).taskId, taskId, 'statusFailNext: 1 fails only once')
})

t.test('an error code in the body counts even on HTTP 200', async (t) => {
  const { sim, url } = await startSim(t, { faults: { errorsAsHttp200: true } })
  const poyo = client(url)
  sim.simulator.faults.set({ submitStatus5xx: 500 })
  t.match(await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT })), {
    kind: 'retryable',
    httpStatus: 200,
    code: 500,
    type: 'internal_error',
  })
  sim.simulator.faults.set({ submitStatus5xx: null, submitFinalError: { status: 402 } })
  t.match(await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT })), {
    kind: 'final',
    httpStatus: 200,
    code: 402,
    type: 'insufficient_credits_error',
  })
  sim.simulator.faults.set({ submitFinalError: null, notFoundEnvelope: 'error' })
  t.match(await poyoError(t, () => poyo.status('task-nope')), {
    kind: 'not_found',
    httpStatus: 200,
    code: 404,
  })
})

t.test('a malformed success: retryable on status, ambiguous on submit (the task may exist)', async (t) => {
  const { sim, url } = await startSim(t)
  const poyo = client(url)
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT })
  sim.simulator.faults.set({ malformedSuccess: true })
  const status = await poyoError(t, () => poyo.status(taskId))
  t.match(status, { kind: 'retryable', httpStatus: 200, message: /malformed body: data.task_id/ })
  const submit = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(submit, { kind: 'ambiguous', httpStatus: 200, message: /malformed body/ })
  t.equal(sim.simulator.overview().created.total, 2, 'PoYo did create the second task')
})

t.test('bodies that are not PoYo envelopes', async (t) => {
  // A stand-in for proxies and odd answers the simulator does not produce.
  const odd = Fastify()
  odd.post('/api/generate/submit', async (_req, reply) =>
    reply.code(502).type('text/html').send('<h1>Bad Gateway</h1>'),
  )
  odd.get('/api/generate/status/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id
    if (id === 'list') return reply.code(422).send({ detail: [{ loc: ['path', 'id'], msg: 'bad id' }] })
    if (id === 'text') return reply.code(200).type('text/plain').send('OK')
    if (id === 'slow')
      return reply.code(408).send({ code: 408, error: { message: 'timeout', type: 'timeout_error' } })
    if (id === 'status') return { code: 200, data: { task_id: id, status: 'exploded', progress: 5 } }
    return { code: 200, data: { task_id: id, status: 'running' } }
  })
  const url = await odd.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => odd.close())
  const poyo = client(url)

  t.match(await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT })), {
    kind: 'retryable',
    httpStatus: 502,
    message: '<h1>Bad Gateway</h1>',
  })
  t.match(await poyoError(t, () => poyo.status('list')), {
    kind: 'final',
    httpStatus: 422,
    message: 'path.id: bad id',
  })
  t.match(await poyoError(t, () => poyo.status('slow')), {
    kind: 'retryable',
    httpStatus: 408,
    type: 'timeout_error',
  })
  t.match(await poyoError(t, () => poyo.status('text')), {
    kind: 'retryable',
    message: /malformed body: no `data`/,
  })
  t.match(await poyoError(t, () => poyo.status('status')), { kind: 'retryable', message: /"exploded"/ })
  const sparse = await poyo.status('sparse')
  t.same(sparse, {
    taskId: 'sparse',
    status: 'running',
    progress: 0,
    files: [],
    createdTime: null,
    errorMessage: null,
    creditsAmount: null,
  })
})

t.test('helpers: Retry-After and error bodies', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000)
  t.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a past date means now')
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
  t.same(readErrorBody({ code: 402, error: { message: 'm', type: 'insufficient_credits_error' } }, ''), {
    code: 402,
    message: 'm',
    type: 'insufficient_credits_error',
  })
  t.same(readErrorBody({ detail: 'Task not found' }, ''), { message: 'Task not found' })
  t.same(readErrorBody(undefined, '  upstream\n timeout  '), { message: 'upstream timeout' })
})
