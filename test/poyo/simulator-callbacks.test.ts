import t from 'tap'
import { verifyPoyoCallback } from '../../src/poyo/signature.js'
import {
  client,
  INPUT,
  MODEL,
  type ReceivedCallback,
  sleep,
  startReceiver,
  startSim,
  WEBHOOK_SECRET,
  waitFor,
} from './helpers.js'

function verify(cb: ReceivedCallback, taskId: string) {
  return verifyPoyoCallback({
    secret: WEBHOOK_SECRET,
    taskId,
    timestampHeader: cb.headers['x-webhook-timestamp'],
    signatureHeader: cb.headers['x-webhook-signature'],
    nowSeconds: Math.floor(Date.now() / 1000),
  })
}

t.test('finished: one unwrapped, signed callback matching the status endpoint', async (t) => {
  const { url } = await startSim(t, { runMs: 150 })
  const receiver = await startReceiver(t)
  const poyo = client(url)
  const submittedAt = Date.now()
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })

  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received, { what: 'callback' })
  t.ok(cb!.atMs - submittedAt >= 140, 'sent only once the task ended (no callback for running)')
  t.same(verify(cb!, taskId), { ok: true }, 'signature verifies')
  const body = cb!.body as Record<string, unknown>
  t.equal(body['task_id'], taskId)
  t.equal(body['status'], 'finished')
  t.notOk('code' in body, 'unwrapped')
  t.match(body['files'], [{ file_type: 'image' }, { file_type: 'video', file_url: /\.mp4$/ }])

  const status = await poyo.status(taskId)
  t.equal(status.status, 'finished')
  t.same(
    status.files,
    (body['files'] as Array<{ file_url: string; file_type: string }>).map((f) => ({
      url: f.file_url,
      type: f.file_type,
    })),
  )
  await sleep(50)
  t.equal(receiver.received.length, 1, 'exactly one callback')
})

t.test('failed tasks call back too, with error_message', async (t) => {
  const { url } = await startSim(t, { runMs: 80, faults: { failTasks: 1 } })
  const receiver = await startReceiver(t)
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received)
  t.match(cb!.body, {
    task_id: taskId,
    status: 'failed',
    error_message: /failed/,
    credits_amount: 0,
    files: [],
  })
  t.same(verify(cb!, taskId), { ok: true })
})

t.test('wrapCallbacks sends {code: 200, data}', async (t) => {
  const { url } = await startSim(t, { runMs: 60, faults: { wrapCallbacks: true } })
  const receiver = await startReceiver(t)
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received)
  t.match(cb!.body, { code: 200, data: { task_id: taskId, status: 'finished' } })
  t.same(verify(cb!, taskId), { ok: true })
})

t.test('duplicateCallbacks sends each callback twice', async (t) => {
  const { sim, url } = await startSim(t, { runMs: 60, faults: { duplicateCallbacks: true } })
  const receiver = await startReceiver(t)
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await waitFor(() => receiver.received.length >= 2, { what: 'two callbacks' })
  t.same(
    receiver.received.map((cb) => (cb.body as { task_id: string }).task_id),
    [taskId, taskId],
  )
  await waitFor(() => sim.simulator.overview().callbacks.length >= 2, { what: 'two recorded attempts' })
  await sleep(50)
  t.equal(receiver.received.length, 2, 'twice, not more')
  t.same(
    sim.simulator
      .overview()
      .callbacks.map((a) => a.copy)
      .sort(),
    [1, 2],
  )
})

t.test('dropCallbacks: 1 never calls back; polling still sees the end', async (t) => {
  const { sim, url } = await startSim(t, { runMs: 60, faults: { dropCallbacks: 1 } })
  const receiver = await startReceiver(t)
  const poyo = client(url)
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await waitFor(() => sim.simulator.overview().dropped_callbacks.includes(taskId), { what: 'the drop' })
  t.equal(receiver.received.length, 0)
  t.equal((await poyo.status(taskId)).status, 'finished')
})

t.test('a receiver answering 500 gets retries until it accepts', async (t) => {
  const { sim, url } = await startSim(t, { runMs: 50, callbackRetryDelaysMs: [20, 20, 20, 20, 20] })
  const receiver = await startReceiver(t, (n) => (n <= 2 ? 500 : 200))
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await waitFor(() => sim.simulator.overview().callbacks.length >= 3, { what: 'third recorded attempt' })
  await sleep(60)
  t.equal(receiver.received.length, 3, 'stopped once accepted')
  t.same(
    sim.simulator.overview().callbacks.map((a) => [a.taskId, a.attempt, a.httpStatus, a.ok]),
    [
      [taskId, 1, 500, false],
      [taskId, 2, 500, false],
      [taskId, 3, 200, true],
    ],
  )
  for (const cb of receiver.received) t.same(verify(cb, taskId), { ok: true }, 'every attempt is signed')
})

t.test('retries stop after the configured number', async (t) => {
  const { url } = await startSim(t, { runMs: 30, callbackRetryDelaysMs: [10, 10] })
  const receiver = await startReceiver(t, () => 503)
  await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await waitFor(() => receiver.received.length >= 3, { what: 'three attempts' })
  await sleep(80)
  t.equal(receiver.received.length, 3, 'one attempt plus two retries, then nothing')
})

t.test('badSignature signs with the wrong secret', async (t) => {
  const { url } = await startSim(t, { runMs: 40, faults: { badSignature: true } })
  const receiver = await startReceiver(t)
  const { taskId } = await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received)
  t.same(verify(cb!, taskId), { ok: false, reason: 'signature mismatch' })
})

t.test('without a webhook secret callbacks carry no signature headers', async (t) => {
  const { sim, url } = await startSim(t, { runMs: 40, webhookSecret: undefined })
  const receiver = await startReceiver(t)
  await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received)
  t.equal(cb!.headers['x-webhook-signature'], undefined)
  t.equal(cb!.headers['x-webhook-timestamp'], undefined)
  const attempts = await waitFor(
    () => sim.simulator.overview().callbacks.length > 0 && sim.simulator.overview().callbacks,
  )
  t.equal(attempts[0]?.ok, true)
})

t.test('delayCallbacksMs holds callbacks back', async (t) => {
  const { url } = await startSim(t, { runMs: 40, faults: { delayCallbacksMs: 150 } })
  const receiver = await startReceiver(t)
  const submittedAt = Date.now()
  await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const [cb] = await waitFor(() => receiver.received.length > 0 && receiver.received)
  t.ok(cb!.atMs - submittedAt >= 185, `arrived after run + delay (${cb!.atMs - submittedAt} ms)`)
})

t.test('reorderCallbacks delivers tasks out of their finishing order', async (t) => {
  const { url } = await startSim(t, { runMs: 40, faults: { reorderCallbacks: true, reorderWindowMs: 300 } })
  const receiver = await startReceiver(t)
  const poyo = client(url)
  const ids: string[] = []
  for (let i = 0; i < 6; i++) {
    ids.push((await poyo.submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })).taskId)
  }
  await waitFor(() => receiver.received.length >= 6, { what: 'six callbacks' })
  const order = receiver.received.map((cb) => (cb.body as { task_id: string }).task_id)
  t.same([...order].sort(), [...ids].sort(), 'every task reported once')
  t.not(order.join(), ids.join(), 'not in submit order')
})

t.test('close() and reset cancel pending callbacks and retry timers', async (t) => {
  // PoYo's real schedule: the first retry waits 60 s. That timer must not outlive the simulator.
  const { sim, url } = await startSim(t, { runMs: 20 })
  const receiver = await startReceiver(t, () => 500)
  await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await client(url).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  await waitFor(() => sim.simulator.overview().callbacks.length >= 2, { what: 'first attempts' })
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  await sim.close()
  t.ok(timers() <= before - 2, 'both 60 s retry timers are gone')

  const { sim: sim2, url: url2 } = await startSim(t, { runMs: 100 })
  await client(url2).submit({ model: MODEL, input: INPUT, callbackUrl: receiver.url })
  const res = await fetch(`${url2}/_sim/reset`, { method: 'POST' })
  t.equal(res.status, 200)
  await sleep(150)
  t.equal(receiver.received.length, 2, 'no callback for a task forgotten by reset')
  t.same(sim2.simulator.overview().tasks, [])
})
