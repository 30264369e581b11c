/**
 * Outbound webhooks (issue #6), end to end: tasks created over HTTP run against the
 * in-process PoYo simulator, the service's webhook sweep POSTs to receivers listening on
 * 127.0.0.1, and every message is checked with the reference Standard Webhooks library
 * (`standardwebhooks`), not with our own signing code. All scenarios start together at the
 * top, so the file waits for the slowest task once, not once per scenario.
 */
import { randomUUID } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import t, { type Test } from 'tap'
import { createApiKey, newWebhookSecret } from '../../src/auth/api-keys.js'
import { buildTestApp } from '../helpers/app.js'
import { sleep, waitFor } from '../helpers/wait.js'
import {
  answer,
  type ReceivedWebhook,
  signatureHeaders,
  startReceiver,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.js'

const timeoutMs = 500
const { app, runtime } = await buildTestApp(t, {
  // Callbacks to port 9 go nowhere: tasks finish through polling.
  PUBLIC_URL: 'http://127.0.0.1:9',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_TIMEOUT_MS: String(timeoutMs),
  // PoYo reports a task running from 0.4 s to 4 s after submission: wide enough to catch it
  // running with a refresh even on a busy machine. Polls come 2 s and 5 s after submission.
  SIMULATOR_RUN_MS: '4000',
  POLL_SWEEP_INTERVAL_MS: '200',
})
const prisma = runtime.deps.prisma
const simulator = runtime.simulator?.simulator
if (!simulator) throw new Error('these tests need the in-process simulator (unset POYO_API_KEY)')

const client = await createApiKey(prisma, { name: 'webhook client', role: 'client' })
const rotating = await createApiKey(prisma, { name: 'rotating client', role: 'client' })
const asClient = { authorization: `Bearer ${client.secret}` }

type Json = Record<string, unknown>

async function createTask(
  receiver: WebhookReceiver,
  options: { events?: string[]; authorization?: string; byName?: boolean } = {},
): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { authorization: options.authorization ?? asClient.authorization },
    payload: {
      model: 'kling-3.0/standard',
      input: { prompt: 'A lighthouse in a storm', duration: 5 },
      webhook_url: options.byName ? receiver.url.replace('127.0.0.1', 'localhost') : receiver.url,
      ...(options.events ? { webhook_events: options.events } : {}),
    },
  })
  if (response.statusCode !== 202) throw new Error(`task not created: ${response.body}`)
  return response.json().id
}

const task = (id: string) => prisma.task.findUniqueOrThrow({ where: { id } })
const deliveriesOf = (taskId: string) =>
  prisma.webhookDelivery.findMany({
    where: { taskId },
    include: { attempts: { orderBy: { number: 'asc' } } },
    orderBy: { createdAt: 'asc' },
  })
const simStatus = (providerTaskId: string) =>
  simulator.overview().tasks.find((sim) => sim.task_id === providerTaskId)?.status

/** Polls PoYo now (POST …/refresh) once the simulator reports `status` for the task. */
async function refreshWhen(taskId: string, status: 'running' | 'finished'): Promise<string> {
  const providerTaskId = await waitFor(async () => (await task(taskId)).providerTaskId, {
    what: `task ${taskId} to be submitted`,
  })
  await waitFor(() => simStatus(providerTaskId) === status, {
    what: `the simulator to report ${status} for ${taskId} (now ${simStatus(providerTaskId)})`,
  })
  const response = await app.inject({ method: 'POST', url: `/v1/tasks/${taskId}/refresh`, headers: asClient })
  if (response.statusCode !== 200) throw new Error(`refresh failed: ${response.body}`)
  return response.json().status
}

/**
 * The task's delivery as first seen with an attempt logged. Started when the task is created
 * and polled often, so the snapshot shows the state right after attempt 1, before a retry
 * that comes seconds later (the subtests run later than that on a busy machine).
 */
function watchFirstAttempt(taskId: string) {
  const watching = waitFor(
    async () => (await deliveriesOf(taskId)).find((d) => d.attempts.length > 0 && d.attemptCount > 0),
    { timeoutMs: 30_000, intervalMs: 20, what: `a logged attempt for task ${taskId}` },
  ).then((delivery) => ({
    delivery,
    attempt: delivery.attempts[0] as NonNullable<(typeof delivery.attempts)[0]>,
  }))
  watching.catch(() => {}) // reported by the subtest that awaits it
  return watching
}

function verify(secret: string, message: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(message.body, signatureHeaders(message))
}

// --- every scenario starts now -------------------------------------------------------------
const receivers = {
  basic: await startReceiver(t),
  twoEvents: await startReceiver(t),
  flaky: await startReceiver(t, (_received, response, index) => {
    if (index === 0) response.writeHead(500, { 'content-type': 'text/plain' }).end('boom')
    else response.writeHead(200).end('ok')
  }),
  throttled: await startReceiver(t, answer(429, { 'retry-after': '3600' }, 'slow down')),
  gone: await startReceiver(t, answer(410)),
  hanging: await startReceiver(t, () => {}),
  dropping: await startReceiver(t, (_received, response) => {
    response.socket?.destroy()
  }),
  rotated: await startReceiver(t),
}
const tasks = {
  basic: await createTask(receivers.basic),
  // By host name, so the connection goes through the delivery's own DNS lookup.
  twoEvents: await createTask(receivers.twoEvents, { events: ['running', 'finished'], byName: true }),
  flaky: await createTask(receivers.flaky),
  throttled: await createTask(receivers.throttled),
  gone: await createTask(receivers.gone, { events: ['running', 'finished'] }),
  hanging: await createTask(receivers.hanging),
  dropping: await createTask(receivers.dropping),
  rotated: await createTask(receivers.rotated, { authorization: `Bearer ${rotating.secret}` }),
}

const firstAttempts = {
  flaky: watchFirstAttempt(tasks.flaky),
  throttled: watchFirstAttempt(tasks.throttled),
  gone: watchFirstAttempt(tasks.gone),
  hanging: watchFirstAttempt(tasks.hanging),
  dropping: watchFirstAttempt(tasks.dropping),
}

// The 500 is retried on schedule 5 s later; make it due at once instead, as soon as it is logged.
const flakyMadeDue = firstAttempts.flaky.then(({ delivery }) =>
  prisma.webhookDelivery.updateMany({
    where: { id: delivery.id, status: 'pending' },
    data: { nextAttemptAt: new Date() },
  }),
)
flakyMadeDue.catch(() => {})

// Rotate before anything is signed: the old secret keeps signing for an hour.
const oldSecret = rotating.apiKey.webhookSecret
const newSecret = newWebhookSecret()
await prisma.apiKey.update({
  where: { id: rotating.apiKey.id },
  data: {
    webhookSecret: newSecret,
    previousWebhookSecret: oldSecret,
    previousWebhookSecretExpiresAt: new Date(Date.now() + 3_600_000),
  },
})

// Catch two tasks while PoYo reports them running (the poller alone would first see them finished).
const runningStatuses = await Promise.all([
  refreshWhen(tasks.twoEvents, 'running'),
  refreshWhen(tasks.gone, 'running'),
])
// Hold the 410 task in `running` until its first message has been answered; the test finishes it.
await prisma.task.update({
  where: { id: tasks.gone },
  data: { nextPollAt: new Date(Date.now() + 3_600_000) },
})

// -------------------------------------------------------------------------------------------

t.test('two tasks were caught running', async (t) => {
  t.same(runningStatuses, ['running', 'running'])
})

t.test('a finished task gets one POST, signed per Standard Webhooks', async (t) => {
  const [message] = await waitFor(() => receivers.basic.received.length > 0 && receivers.basic.received, {
    timeoutMs: 15_000,
    what: 'the finished message',
  })
  if (!message) throw new Error('unreachable')
  const delivery = await waitFor(
    async () => (await deliveriesOf(tasks.basic)).find((d) => d.status === 'delivered'),
    { what: 'the delivery to be marked delivered' },
  )
  t.equal((await deliveriesOf(tasks.basic)).length, 1, 'one delivery (default events: terminal ones)')
  t.equal(delivery.event, 'finished')
  t.equal(message.method, 'POST')
  t.equal(message.url, '/hook')
  t.match(message.headers['content-type'], /^application\/json/)

  const headers = signatureHeaders(message)
  t.equal(headers['webhook-id'], delivery.id, 'webhook-id is the delivery id')
  t.match(headers['webhook-timestamp'], /^\d+$/, 'webhook-timestamp is integer seconds')
  t.ok(
    Math.abs(Number(headers['webhook-timestamp']) - message.at / 1000) < 30,
    'webhook-timestamp is the time of sending',
  )
  t.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'one v1 signature')

  const verified = verify(client.apiKey.webhookSecret, message)
  t.ok(verified, "verifies with the API key's webhook secret (standardwebhooks)")
  t.throws(() => verify(newWebhookSecret(), message), 'does not verify with another secret')
  t.throws(
    () =>
      new Webhook(client.apiKey.webhookSecret).verify(message.body.replace('finished', 'failed'), headers),
    'does not verify once the body is changed',
  )

  const body = JSON.parse(message.body)
  t.same(Object.keys(body).sort(), ['data', 'timestamp', 'type'])
  t.equal(body.type, 'task.finished')
  t.ok(Math.abs(Date.parse(body.timestamp) - message.at) < 30_000, 'timestamp is an ISO time of sending')
  const current = (await app.inject({ url: `/v1/tasks/${tasks.basic}`, headers: asClient })).json()
  t.equal(current.status, 'finished')
  t.match(body.data, {
    id: tasks.basic,
    status: 'finished',
    progress: 100,
    webhook_url: receivers.basic.url,
    files: current.files,
    finished_at: current.finished_at,
  })
  t.same(Object.keys(body.data).sort(), Object.keys(current).sort(), 'data is the task resource')
  t.ok(current.files.length > 0, 'with its files')
})

t.test("webhook_events ['running', 'finished'] gives two deliveries", async (t) => {
  const received = await waitFor(
    () => receivers.twoEvents.received.length >= 2 && receivers.twoEvents.received,
    { timeoutMs: 15_000, what: 'two messages' },
  )
  const deliveries = await waitFor(
    async () => {
      const all = await deliveriesOf(tasks.twoEvents)
      return all.length === 2 && all.every((d) => d.status === 'delivered') && all
    },
    { what: 'two delivered deliveries' },
  )
  t.same(
    deliveries.map((d) => d.event),
    ['running', 'finished'],
  )
  t.equal(received.length, 2, 'two messages')
  // Standard Webhooks promises no order (both may go out in one sweep): pair them by webhook-id.
  for (const delivery of deliveries) {
    const messages = received.filter((message) => message.headers['webhook-id'] === delivery.id)
    t.equal(messages.length, 1, `one message for the ${delivery.event} delivery`)
    const body = JSON.parse(messages[0]?.body ?? '{}')
    t.equal(body.type, `task.${delivery.event}`)
    t.equal(body.data?.status, delivery.event, 'the task as it was at that status')
  }
  for (const message of received) t.ok(verify(client.apiKey.webhookSecret, message), 'verifies')
})

t.test('500 then 200: two attempts logged, then delivered', async (t) => {
  const { delivery, attempt } = await firstAttempts.flaky
  t.equal(delivery.attemptCount, 1, 'seen right after the first attempt')
  t.match(attempt, { number: 1, httpStatus: 500, error: null, responseBody: 'boom' })
  t.ok(
    attempt.durationMs >= 0 && attempt.durationMs < timeoutMs * 4,
    `latency logged: ${attempt.durationMs} ms`,
  )
  t.equal(delivery.status, 'pending', 'still pending')
  const retryIn = (delivery.nextAttemptAt?.getTime() ?? 0) - attempt.startedAt.getTime()
  t.ok(retryIn >= 4_000 && retryIn <= 7_000, `the next attempt is scheduled ~5 s later (${retryIn} ms)`)

  // Made due at once (above) instead of in 5 s.
  const { count } = await flakyMadeDue
  t.equal(count, 1, 'the retry was made due while still pending')
  const done = await waitFor(
    async () => (await deliveriesOf(tasks.flaky)).find((d) => d.status === 'delivered'),
    { timeoutMs: 10_000, what: 'the retry to deliver' },
  )
  t.match(
    done.attempts.map((a) => [a.number, a.httpStatus, a.error]),
    [
      [1, 500, null],
      [2, 200, null],
    ],
  )
  t.equal(done.attemptCount, 2)
  t.ok(done.deliveredAt, 'delivered_at is set')
  t.equal(done.nextAttemptAt, null, 'nothing more is scheduled')

  const received = receivers.flaky.received
  t.equal(received.length, 2, 'the receiver got two requests')
  t.same(
    received.map((message) => message.headers['webhook-id']),
    [delivery.id, delivery.id],
    'the same webhook-id on the retry',
  )
  for (const message of received) t.ok(verify(client.apiKey.webhookSecret, message), 'each attempt verifies')

  const listed = await app.inject({ url: `/v1/tasks/${tasks.flaky}/deliveries`, headers: asClient })
  t.equal(listed.statusCode, 200)
  const [shown] = listed.json().data
  t.match(shown, {
    id: delivery.id,
    event: 'finished',
    url: receivers.flaky.url,
    status: 'delivered',
    attempt_count: 2,
    next_attempt_at: null,
    delivered_at: String,
    attempts: [
      { number: 1, http_status: 500, error: null, duration_ms: Number, started_at: String },
      { number: 2, http_status: 200, error: null, duration_ms: Number, started_at: String },
    ],
  })
})

t.test('429 with Retry-After: 3600 puts the next attempt an hour away', async (t) => {
  const { delivery, attempt } = await firstAttempts.throttled
  t.equal(delivery.attemptCount, 1, 'seen right after the first attempt')
  t.equal(attempt.httpStatus, 429)
  t.equal(delivery.status, 'pending')
  const next = delivery.nextAttemptAt?.getTime() ?? 0
  t.ok(next >= attempt.startedAt.getTime() + 3_600_000, 'next_attempt_at ≥ attempt time + 3600 s')
  t.ok(next <= Date.now() + 3_600_000 + 60_000, 'and not much later')
  t.equal(receivers.throttled.received.length, 1, 'no second request')
})

t.test('410 stops the delivery and every later message of the task', async (t) => {
  const { delivery, attempt } = await firstAttempts.gone
  t.equal(delivery.attemptCount, 1, 'seen right after the first attempt')
  t.equal(delivery.event, 'running')
  t.equal(attempt.httpStatus, 410)
  t.equal(delivery.status, 'stopped')
  t.equal(delivery.nextAttemptAt, null)

  // Now let the task finish: the `finished` message must not be created.
  t.equal(await refreshWhen(tasks.gone, 'finished'), 'finished', 'the task finished')
  const deliveries = await deliveriesOf(tasks.gone)
  t.same(
    deliveries.map((d) => [d.event, d.status]),
    [['running', 'stopped']],
    'no delivery for finished',
  )
  await sleep(1_200) // one webhook sweep
  t.equal(receivers.gone.received.length, 1, 'the receiver heard only the first message')
  const listed = await app.inject({ url: `/v1/tasks/${tasks.gone}/deliveries`, headers: asClient })
  t.match(listed.json().data, [{ event: 'running', status: 'stopped', attempts: [{ http_status: 410 }] }])
})

t.test('a receiver that never answers: an error after the timeout, and a retry', async (t) => {
  const { delivery, attempt } = await firstAttempts.hanging
  t.equal(delivery.attemptCount, 1, 'seen right after the first attempt')
  t.equal(attempt.httpStatus, null, 'no status')
  t.match(attempt.error, /timeout/i, `an error is logged: ${attempt.error}`)
  t.ok(
    attempt.durationMs >= timeoutMs * 0.8 && attempt.durationMs < timeoutMs * 6,
    `it took about WEBHOOK_TIMEOUT_MS (${attempt.durationMs} ms)`,
  )
  t.equal(delivery.status, 'pending', 'a retry is scheduled')
  t.ok((delivery.nextAttemptAt?.getTime() ?? 0) > attempt.startedAt.getTime() + 4_000, 'seconds later')
  t.ok(receivers.hanging.received.length >= 1, 'the request did reach the receiver')
})

t.test('a receiver that drops the connection: an error is logged, and a retry', async (t) => {
  const { delivery, attempt } = await firstAttempts.dropping
  t.equal(delivery.attemptCount, 1, 'seen right after the first attempt')
  t.equal(attempt.httpStatus, null)
  t.match(attempt.error, /closed|socket|reset|hang up/i, `an error is logged: ${attempt.error}`)
  t.equal(delivery.status, 'pending', 'a retry is scheduled')
  t.ok(delivery.nextAttemptAt, 'with a time')
})

t.test('GET …/deliveries shows the delivery; redeliver sends it again', async (t) => {
  await waitFor(async () => (await deliveriesOf(tasks.basic)).find((d) => d.status === 'delivered'), {
    timeoutMs: 15_000,
    what: 'the first delivery',
  })
  const listed = await app.inject({ url: `/v1/tasks/${tasks.basic}/deliveries`, headers: asClient })
  t.equal(listed.statusCode, 200)
  const [delivery] = listed.json().data as Json[]
  t.match(delivery, {
    event: 'finished',
    url: receivers.basic.url,
    status: 'delivered',
    attempt_count: 1,
    attempts: [{ number: 1, http_status: 200, error: null }],
  })
  const before = receivers.basic.received.length
  t.equal(before, 1)

  const redeliver = await app.inject({
    method: 'POST',
    url: `/v1/tasks/${tasks.basic}/deliveries/${delivery?.id}/redeliver`,
    headers: asClient,
  })
  t.equal(redeliver.statusCode, 202, redeliver.body)
  t.match(redeliver.json(), { id: delivery?.id, status: 'pending', attempt_count: 1 })

  const again = await waitFor(() => receivers.basic.received[1], {
    timeoutMs: 10_000,
    what: 'the redelivery',
  })
  t.equal(again.headers['webhook-id'], delivery?.id, 'the same webhook-id')
  t.ok(verify(client.apiKey.webhookSecret, again), 'signed afresh and verifies')
  const after = await waitFor(
    async () => {
      const response = await app.inject({ url: `/v1/tasks/${tasks.basic}/deliveries`, headers: asClient })
      const [shown] = response.json().data as Json[]
      return shown?.attempt_count === 2 && shown.status === 'delivered' && shown
    },
    { what: 'the second attempt to be logged' },
  )
  t.match(after.attempts, [
    { number: 1, http_status: 200 },
    { number: 2, http_status: 200 },
  ])

  const unknown = await app.inject({
    method: 'POST',
    url: `/v1/tasks/${tasks.basic}/deliveries/${randomUUID()}/redeliver`,
    headers: asClient,
  })
  t.equal(unknown.statusCode, 404, 'an unknown delivery is 404')
})

t.test('after a secret rotation, messages carry two signatures until the old secret expires', async (t) => {
  const [message] = await waitFor(() => receivers.rotated.received.length > 0 && receivers.rotated.received, {
    timeoutMs: 15_000,
    what: 'the message',
  })
  if (!message) throw new Error('unreachable')
  const signatures = signatureHeaders(message)['webhook-signature'].split(' ')
  t.equal(signatures.length, 2, 'two signatures')
  for (const signature of signatures) t.match(signature, /^v1,/)
  t.ok(verify(newSecret, message), 'verifies with the new secret')
  t.ok(verify(oldSecret, message), 'verifies with the old secret')
  t.throws(() => verify(newWebhookSecret(), message), 'not with a third')

  // Once the grace period is over, only the new secret signs.
  await prisma.apiKey.update({
    where: { id: rotating.apiKey.id },
    data: { previousWebhookSecretExpiresAt: new Date(Date.now() - 1_000) },
  })
  const [delivery] = await waitFor(
    async () => {
      const all = await deliveriesOf(tasks.rotated)
      return all[0]?.status === 'delivered' && all
    },
    { what: 'the delivery to be marked delivered' },
  )
  const redeliver = await app.inject({
    method: 'POST',
    url: `/v1/tasks/${tasks.rotated}/deliveries/${delivery?.id}/redeliver`,
    headers: { authorization: `Bearer ${rotating.secret}` },
  })
  t.equal(redeliver.statusCode, 202)
  const later = await waitFor(() => receivers.rotated.received[1], {
    timeoutMs: 10_000,
    what: 'the redelivery',
  })
  t.equal(signatureHeaders(later)['webhook-signature'].split(' ').length, 1, 'one signature')
  t.ok(verify(newSecret, later), 'verifies with the new secret')
  t.throws(() => verify(oldSecret, later), 'no longer with the old one')
})

t.test('no receiver got more than it was sent', async (t: Test) => {
  await sleep(1_200) // one more webhook sweep
  t.same(
    {
      basic: receivers.basic.received.length,
      twoEvents: receivers.twoEvents.received.length,
      flaky: receivers.flaky.received.length,
      throttled: receivers.throttled.received.length,
      gone: receivers.gone.received.length,
      rotated: receivers.rotated.received.length,
    },
    { basic: 2, twoEvents: 2, flaky: 2, throttled: 1, gone: 1, rotated: 2 },
  )
})
