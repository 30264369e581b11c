import Fastify from 'fastify'
import t from 'tap'
import type { PoyoCallReport } from '../../src/poyo/client.js'
import {
  API_KEY,
  captureLogger,
  client,
  closedPortUrl,
  INPUT,
  MODEL,
  poyoError,
  startSim,
} from './helpers.js'

t.test('a slow status answer times out as retryable', async (t) => {
  const { sim, url } = await startSim(t)
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT })
  sim.simulator.faults.set({ slowMs: 2000 })
  const started = Date.now()
  const err = await poyoError(t, () => client(url, { timeoutMs: 150 }).status(taskId))
  t.match(err, { kind: 'retryable', message: /no answer within 150 ms/ })
  t.equal(err.httpStatus, undefined)
  t.ok(Date.now() - started < 1500, 'gave up at the timeout, not when the answer came')
})

t.test('a submit that is accepted but never answered is ambiguous', async (t) => {
  const { sim, url } = await startSim(t, { faults: { acceptThenHang: true, submitFailNext: 1 } })
  const calls: PoyoCallReport[] = []
  const poyo = client(url, { timeoutMs: 150, onCall: (c) => calls.push(c) })
  const err = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(err, { kind: 'ambiguous', message: /may have created the task/ })
  t.equal(sim.simulator.overview().created.total, 1, 'the simulator did create the task')
  t.match(calls, [{ endpoint: 'submit', outcome: 'ambiguous' }])
  // submitFailNext: 1 — the next submit is answered normally.
  t.type((await client(url).submit({ model: MODEL, input: INPUT })).taskId, 'string')
})

t.test('a slow submit (sent, then timed out) is ambiguous too', async (t) => {
  const { url } = await startSim(t, { faults: { slowMs: 2000 } })
  const err = await poyoError(t, () => client(url, { timeoutMs: 100 }).submit({ model: MODEL, input: INPUT }))
  t.equal(err.kind, 'ambiguous')
})

t.test('connection refused is retryable, not ambiguous, on both endpoints', async (t) => {
  const url = await closedPortUrl()
  const calls: PoyoCallReport[] = []
  const poyo = client(url, { onCall: (c) => calls.push(c) })
  const submit = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(submit, { kind: 'retryable', message: /could not connect \(ECONNREFUSED\); nothing was sent/ })
  t.match(await poyoError(t, () => poyo.status('task-x')), { kind: 'retryable' })
  t.same(
    calls.map((c) => [c.endpoint, c.outcome, c.httpStatus]),
    [
      ['submit', 'retryable', undefined],
      ['status', 'retryable', undefined],
    ],
  )
})

t.test('a connection dropped after the request was sent is ambiguous on submit', async (t) => {
  const rude = Fastify()
  rude.post('/api/generate/submit', async (request, reply) => {
    reply.hijack()
    request.raw.socket.destroy()
  })
  const url = await rude.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => rude.close())
  const err = await poyoError(t, () => client(url).submit({ model: MODEL, input: INPUT }))
  t.match(err, { kind: 'ambiguous', message: /connection lost before an answer/ })
})

t.test('the API key never reaches logs or errors, even when the server echoes it', async (t) => {
  const lines: string[] = []
  const errors: string[] = []
  const keep = (err: Error) => errors.push(err.message, JSON.stringify(err), String(err), err.stack ?? '')

  // PoYo's 401 for a wrong key, and the simulator's other answers.
  const { sim, url } = await startSim(t)
  for (const apiKey of [API_KEY, 'sk-wrong-0000000000']) {
    const { lines: captured, logger } = captureLogger()
    const poyo = client(url, { apiKey, logger })
    sim.simulator.faults.set({ submitFinalError: { status: 402 } })
    keep(await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT })))
    keep(await poyoError(t, () => poyo.status('task-missing')))
    lines.push(...captured)
    t.ok(captured.length >= 2, 'errors were logged')
    if (apiKey !== API_KEY) continue
    sim.simulator.faults.set({ submitFinalError: null })
    const { taskId } = await poyo.submit({ model: MODEL, input: INPUT })
    await poyo.status(taskId)
    t.ok(
      captured.some((line) => line.includes('"level":"debug"')),
      'successes were logged at debug',
    )
  }

  // A server that puts the Authorization header into its error message.
  const echo = Fastify()
  echo.post('/api/generate/submit', async (request, reply) =>
    reply.code(400).send({
      code: 400,
      error: { message: `bad key ${request.headers.authorization}`, type: 'validation_error' },
    }),
  )
  echo.get('/api/generate/status/:id', async (request, reply) =>
    reply.code(500).type('text/plain').send(`upstream rejected ${request.headers.authorization}`),
  )
  const echoUrl = await echo.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => echo.close())
  const { lines: echoed, logger } = captureLogger()
  const poyo = client(echoUrl, { logger })
  const echoedSubmit = await poyoError(t, () => poyo.submit({ model: MODEL, input: INPUT }))
  t.match(echoedSubmit.message, /^bad key Bearer \[redacted\]$/, 'the message survives, minus the key')
  keep(echoedSubmit)
  keep(await poyoError(t, () => poyo.status('task-1')))
  lines.push(...echoed)

  const everything = [...lines, ...errors].join('\n')
  t.ok(everything.length > 0)
  t.notOk(everything.includes(API_KEY), 'the real key is nowhere')
  t.notOk(everything.includes('sk-wrong-0000000000'), 'a wrong key is nowhere either')
})

t.test('a throwing onCall hook does not break calls', async (t) => {
  const { url } = await startSim(t)
  const poyo = client(url, {
    onCall: () => {
      throw new Error('metrics bug')
    },
  })
  t.type((await poyo.submit({ model: MODEL, input: INPUT })).taskId, 'string')
})
