/**
 * Durable submission against the PoYo simulator: every answer PoYo can give (accepted,
 * rate limited, server errors, rejections, no answer, no connection) and the process dying
 * at the two awkward moments (after storing, and mid-request). Status is asserted up to
 * `not_started`; what comes after belongs to callbacks and polling.
 */
import { freePort } from '../../scripts/lib/free-port.js'
import t, { type Test } from 'tap'
import type { TaskEvent } from '../../src/generated/prisma/client.js'
import { buildSimulator, catalogValidator } from '../../src/poyo/simulator/index.js'
import { verifyCallbackToken } from '../../src/tasks/callback-token.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { sleep, waitFor } from '../helpers/wait.js'

// Each check builds its own app and database, so they can run side by side.
t.jobs = 4

// Callbacks to port 9 go nowhere (fetch refuses that port outright); these tests do not need them.
const PUBLIC_URL = 'http://127.0.0.1:9'
const HAILUO = { model: 'hailuo-2.3', input: { prompt: 'A red fox running through snow' } }
const HAILUO_NORMALIZED = { prompt: 'A red fox running through snow', duration: 6, resolution: '768p' }
/** A few turns of the submit worker's 0.5 s poll: long enough for a stray job to run. */
const FEW_POLL_CYCLES_MS = 1500

type Payload = Record<string, unknown>

/** A submit_attempt event's payload, with the event's time. */
interface Attempt {
  attempt: number
  outcome: 'accepted' | 'retry' | 'rejected' | 'ambiguous'
  retry_in_ms: number
  reason?: string
  provider_task_id?: string
  error?: Payload
  at: number
}

async function createTask(test: TestApp, body: object = HAILUO): Promise<string> {
  const response = await test.app.inject({ method: 'POST', url: '/v1/tasks', payload: body })
  if (response.statusCode !== 202) throw new Error(`POST /v1/tasks: ${response.statusCode} ${response.body}`)
  return response.json().id
}

function events(test: TestApp, taskId: string): Promise<TaskEvent[]> {
  return test.runtime.deps.prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: 'asc' } })
}

async function submitAttempts(test: TestApp, taskId: string): Promise<Attempt[]> {
  return (await events(test, taskId))
    .filter((event) => event.type === 'submit_attempt')
    .map((event) => ({ ...(event.payload as unknown as Attempt), at: event.createdAt.getTime() }))
}

/** Waits for a submit attempt with this outcome and returns all attempts so far. */
function waitForAttempt(test: TestApp, taskId: string, outcome: string, timeoutMs = 8000) {
  return waitFor(
    async () => {
      const attempts = await submitAttempts(test, taskId)
      return attempts.some((attempt) => attempt.outcome === outcome) && attempts
    },
    { what: `a submit attempt with outcome ${outcome}`, timeoutMs },
  )
}

const task = (test: TestApp, id: string) => test.runtime.deps.prisma.task.findUniqueOrThrow({ where: { id } })

function sim(test: TestApp) {
  if (!test.runtime.simulator) throw new Error('expected the in-process simulator')
  return test.runtime.simulator.simulator
}

/** Accepted once, moved queued → not_started once, with PoYo's id. */
async function assertAcceptedOnce(t: Test, test: TestApp, id: string) {
  const row = await task(test, id)
  t.equal(row.status, 'not_started')
  t.ok(row.providerTaskId, 'has the provider task id')
  t.ok(row.submittedAt, 'has submitted_at')
  t.equal(row.submitInFlightAt, null, 'no attempt left in flight')
  t.equal(row.submitAmbiguous, false)
  const all = await events(test, id)
  const accepted = all.filter(
    (e) => e.type === 'submit_attempt' && (e.payload as Payload)['outcome'] === 'accepted',
  )
  t.equal(accepted.length, 1, 'one accepted attempt')
  t.equal((accepted[0]?.payload as Payload)?.['provider_task_id'], row.providerTaskId)
  const changes = all.filter((e) => e.type === 'status_changed')
  t.equal(changes.length, 1, 'one status change')
  t.match(changes[0], { fromStatus: 'queued', toStatus: 'not_started', source: 'submitter' })
  return row
}

t.test(
  '(a) accepted: not_started with PoYo’s id, one submit with the callback URL and normalized input',
  async (t) => {
    const seen: { model: string; input: unknown }[] = []
    const poyo = buildSimulator({
      apiKey: 'sk-submission-test',
      runMs: 600_000,
      validateInput: (model, input) => {
        seen.push({ model, input })
        return catalogValidator(model, input)
      },
    })
    const baseUrl = await poyo.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => poyo.close())
    const test = await buildTestApp(t, {
      POYO_API_KEY: 'sk-submission-test',
      POYO_BASE_URL: baseUrl,
      PUBLIC_URL: `${PUBLIC_URL}/`,
    })

    const id = await createTask(test)
    await waitFor(async () => (await task(test, id)).status !== 'queued', {
      what: 'the task to leave queued',
    })
    const row = await assertAcceptedOnce(t, test, id)
    t.ok(row.submittedAt! >= row.createdAt, 'submitted after it was created')
    t.equal(row.submitAttempts, 1)

    const attempts = await submitAttempts(test, id)
    t.equal(attempts.length, 1, 'one submit attempt event')
    t.match(attempts[0], { attempt: 1, outcome: 'accepted' })

    const resource = (await test.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json()
    t.match(resource, { status: 'not_started', provider_task_id: row.providerTaskId, error: null })
    t.equal(resource.submitted_at, row.submittedAt?.toISOString())

    await sleep(FEW_POLL_CYCLES_MS)
    const overview = poyo.simulator.overview()
    t.equal(overview.submits.total, 1, 'PoYo saw exactly one submit')
    t.equal(overview.created.total, 1)
    t.same(seen, [{ model: 'hailuo-2.3', input: HAILUO_NORMALIZED }], 'PoYo got the normalized input')
    const simTask = overview.tasks[0]
    t.equal(simTask?.task_id, row.providerTaskId)

    const callback = new URL(simTask?.callback_url ?? 'http://missing/')
    t.equal(callback.origin, PUBLIC_URL)
    t.equal(
      callback.pathname,
      `/v1/callbacks/poyo/${id}`,
      'the callback URL names our task (no double slash)',
    )
    t.same([...callback.searchParams.keys()], ['token'])
    const token = callback.searchParams.get('token')
    t.ok(verifyCallbackToken(test.runtime.deps.callbackSecret, id, token), 'the token is this task’s HMAC')
    t.notOk(
      verifyCallbackToken(test.runtime.deps.callbackSecret, '0190d5c6-0000-7000-8000-000000000000', token),
      'and good for no other task',
    )
  },
)

t.test('(b) 429 with Retry-After: retried no sooner than PoYo asked, then accepted', async (t) => {
  const test = await buildTestApp(t, { PUBLIC_URL })
  sim(test).faults.set({ submitStatus429: true, retryAfterSeconds: 2, submitFailNext: 1 })

  const id = await createTask(test)
  const attempts = await waitForAttempt(test, id, 'accepted')
  t.same(
    attempts.map((a) => a.outcome),
    ['retry', 'accepted'],
  )
  const retry = attempts[0]!
  const accepted = attempts[1]!
  t.ok(retry.retry_in_ms >= 2000, `retry_in_ms ${retry.retry_in_ms} honours Retry-After: 2`)
  t.match(retry.error, {
    kind: 'retryable',
    httpStatus: 429,
    retryAfterMs: 2000,
    type: 'rate_limit_error',
  })
  t.ok(accepted.at - retry.at >= 1900, `the next attempt waited (${accepted.at - retry.at} ms after the 429)`)
  t.equal(accepted.attempt, 2)
  await assertAcceptedOnce(t, test, id)
  t.equal((await task(test, id)).submitAttempts, 2)
  const overview = sim(test).overview()
  t.equal(overview.submits.total, 2, 'two submits: the 429 and the accepted one')
  t.equal(overview.created.total, 1, 'one task at PoYo')
})

t.test('(c) 500, 502 and 503: retried with growing backoff, then accepted', async (t) => {
  const test = await buildTestApp(t, { PUBLIC_URL })
  const types = { 500: 'internal_error', 502: 'upstream_error', 503: 'service_error' } as const
  const runs = [
    { status: 500, failures: 1 },
    { status: 502, failures: 1 },
    { status: 503, failures: 2 },
  ] as const
  for (const { status, failures } of runs) {
    await t.test(`${status} × ${failures}`, async (t) => {
      const before = sim(test).overview()
      sim(test).faults.set({ submitStatus5xx: status, submitFailNext: failures })
      const id = await createTask(test)
      const attempts = await waitForAttempt(test, id, 'accepted')
      t.same(
        attempts.map((a) => a.outcome),
        [...Array(failures).fill('retry'), 'accepted'],
      )
      attempts.slice(0, failures).forEach((retry, i) => {
        // Attempt n waits between half and all of 1 s × 2^(n-1).
        const ceiling = 1000 * 2 ** i
        t.ok(
          retry.retry_in_ms >= ceiling / 2 && retry.retry_in_ms <= ceiling,
          `attempt ${i + 1}: ${retry.retry_in_ms} ms in [${ceiling / 2}, ${ceiling}]`,
        )
        t.match(retry.error, { kind: 'retryable', httpStatus: status, type: types[status] })
        const next = attempts[i + 1]!
        t.ok(next.at - retry.at >= retry.retry_in_ms - 50, 'the next attempt waited for it')
      })
      await assertAcceptedOnce(t, test, id)
      const after = sim(test).overview()
      t.equal(after.submits.total - before.submits.total, failures + 1)
      t.equal(after.created.total - before.created.total, 1, 'one task at PoYo')
    })
  }
})

t.test('(d) 400, 402 and 403: the task fails with PoYo’s message, without a retry', async (t) => {
  const test = await buildTestApp(t, { PUBLIC_URL })
  const rejections = [
    { status: 400, type: 'validation_error', message: 'The prompt contains forbidden content' },
    { status: 402, type: 'insufficient_credits_error', message: 'Insufficient credits: 12 left, 35 needed' },
    { status: 403, type: 'permission_denied_error', message: 'Model hailuo-2.3 is not enabled for this key' },
  ] as const
  for (const rejection of rejections) {
    await t.test(`${rejection.status} ${rejection.type}`, async (t) => {
      const before = sim(test).overview()
      sim(test).faults.set({ submitFinalError: rejection })
      const id = await createTask(test)
      await waitFor(async () => (await task(test, id)).status === 'failed', { what: 'the task to fail' })

      const resource = (await test.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json()
      t.match(resource, { status: 'failed', provider_task_id: null, finished_at: /^\d{4}-/ })
      t.same(resource.error, {
        code: 'provider_rejected',
        message: rejection.message,
        provider_code: rejection.status,
        provider_type: rejection.type,
      })
      await sleep(FEW_POLL_CYCLES_MS)
      const attempts = await submitAttempts(test, id)
      t.equal(attempts.length, 1, 'one attempt, no retry')
      t.match(attempts[0], {
        outcome: 'rejected',
        error: { kind: 'final', httpStatus: rejection.status, type: rejection.type },
      })
      const changes = (await events(test, id)).filter((e) => e.type === 'status_changed')
      t.equal(changes.length, 1)
      t.match(changes[0], { fromStatus: 'queued', toStatus: 'failed' })
      const row = await task(test, id)
      t.equal(row.submitAttempts, 1)
      t.equal(row.submitInFlightAt, null)
      const after = sim(test).overview()
      t.equal(after.submits.total - before.submits.total, 1, 'PoYo saw one submit')
      t.equal(after.created.total - before.created.total, 0, 'and created nothing')
    })
  }
})

t.test('(e) no answer in time after sending: ambiguous, stays queued, never resubmitted', async (t) => {
  const test = await buildTestApp(t, { PUBLIC_URL, POYO_TIMEOUT_MS: '500', SIMULATOR_RUN_MS: '600000' })
  const faults = [
    { name: 'PoYo creates the task and never answers', patch: { acceptThenHang: true } },
    { name: 'PoYo answers after our timeout', patch: { slowMs: 1500 } },
  ]
  for (const fault of faults) {
    await t.test(fault.name, async (t) => {
      const before = sim(test).overview()
      sim(test).faults.reset()
      sim(test).faults.set(fault.patch)
      const id = await createTask(test)
      const attempts = await waitForAttempt(test, id, 'ambiguous')
      t.equal(attempts.length, 1)
      t.match(attempts[0], { attempt: 1, outcome: 'ambiguous', reason: /no answer within 500 ms/ })

      // More worker cycles, and even a duplicate submit job, must not send it again.
      await sleep(FEW_POLL_CYCLES_MS)
      await test.runtime.deps.queue.send('task-submit', { taskId: id })
      await sleep(FEW_POLL_CYCLES_MS)

      const row = await task(test, id)
      t.equal(row.status, 'queued', 'still queued: a callback may yet adopt it')
      t.equal(row.submitAmbiguous, true)
      t.equal(row.submitInFlightAt, null)
      t.equal(row.providerTaskId, null)
      t.equal(row.errorCode, null, 'not failed')
      t.equal(row.submitAttempts, 1)
      t.equal((await submitAttempts(test, id)).length, 1, 'no second attempt')
      t.equal((await events(test, id)).filter((e) => e.type === 'status_changed').length, 0)
      const after = sim(test).overview()
      t.equal(after.submits.total - before.submits.total, 1, 'PoYo saw one submit')
      t.equal(after.created.total - before.created.total, 1, 'and did create the task')
    })
  }
})

t.test('(f) connection refused: retried, stays queued, never failed', async (t) => {
  const test = await buildTestApp(t, {
    POYO_API_KEY: 'k',
    // A port closed a moment ago (not 1 or 9: fetch refuses those itself without connecting).
    POYO_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    PUBLIC_URL,
  })
  t.equal(test.runtime.simulator, null, 'talks to the closed port, not the simulator')
  const id = await createTask(test)
  const attempts = await waitFor(
    async () => {
      const found = await submitAttempts(test, id)
      return found.length >= 2 && found
    },
    { what: 'two submit attempts', timeoutMs: 8000 },
  )
  for (const attempt of attempts) {
    t.match(attempt, { outcome: 'retry', error: { kind: 'retryable', message: /ECONNREFUSED/ } })
  }
  const first = attempts[0]!
  const second = attempts[1]!
  t.ok(first.retry_in_ms >= 500 && first.retry_in_ms <= 1000, `first backoff ${first.retry_in_ms}`)
  t.ok(second.retry_in_ms >= 1000 && second.retry_in_ms <= 2000, `second backoff ${second.retry_in_ms}`)
  t.ok(second.at - first.at >= first.retry_in_ms - 50, 'the second attempt waited')

  const row = await task(test, id)
  t.equal(row.status, 'queued')
  t.equal(row.errorCode, null, 'never failed')
  t.equal(row.submitAmbiguous, false, 'nothing was sent, so nothing is ambiguous')
  t.equal(row.submitInFlightAt, null)
  t.ok(row.submitAttempts >= 2)
  // The next attempt is a job in Postgres, so it survives a restart. The attempt that queued
  // it stays active until its consumer completes it, a moment later (a CI run saw both).
  const pendingJobs = async () =>
    (
      await test.runtime.deps.prisma.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pgboss.job
        WHERE name = 'task-submit' AND data->>'taskId' = ${id} AND state IN ('created', 'retry', 'active')`
    )[0]?.n
  const settled = await waitFor(async () => ((await pendingJobs()) === 1 ? 1 : false), {
    what: 'one submit job left',
    timeoutMs: 1000,
    intervalMs: 5,
  }).catch(() => pendingJobs())
  t.equal(settled, 1, 'one submit job is waiting')
})

t.test('(g) stored but not submitted when the process died: the next process submits it once', async (t) => {
  const first = await buildTestApp(t, { WORKERS_ENABLED: 'false', PUBLIC_URL })
  const id = await createTask(first)
  await sleep(FEW_POLL_CYCLES_MS)
  t.equal(sim(first).overview().submits.total, 0, 'no workers: nothing sent')
  t.equal((await task(first, id)).status, 'queued')
  await first.app.close()
  await first.runtime.close()

  const second = await buildTestApp(t, { PUBLIC_URL }, { databaseUrl: first.databaseUrl })
  await waitFor(async () => (await task(second, id)).status !== 'queued', {
    what: 'the task to be submitted by the second process',
  })
  await assertAcceptedOnce(t, second, id)
  await sleep(FEW_POLL_CYCLES_MS)
  const overview = sim(second).overview()
  t.equal(overview.submits.total, 1, 'submitted exactly once')
  t.equal(overview.created.total, 1)
  t.equal(overview.tasks[0]?.task_id, (await task(second, id)).providerTaskId)
  t.equal((await submitAttempts(second, id)).length, 1)
})

t.test('(h) an attempt cut off mid-request: ambiguous, never resubmitted', async (t) => {
  const test = await buildTestApp(t, { PUBLIC_URL, POYO_TIMEOUT_MS: '500' })
  const prisma = test.runtime.deps.prisma
  // A 429 asking for an hour's wait leaves the task queued with no attempt in flight.
  sim(test).faults.set({ submitStatus429: true, retryAfterSeconds: 3600, submitFailNext: 1 })
  const id = await createTask(test)
  await waitForAttempt(test, id, 'retry')
  t.equal(sim(test).overview().submits.total, 1)

  // An attempt that started just now may still be running elsewhere: leave it alone.
  await prisma.task.update({ where: { id }, data: { submitInFlightAt: new Date() } })
  await test.runtime.deps.queue.send('task-submit', { taskId: id })
  await sleep(FEW_POLL_CYCLES_MS)
  t.equal((await submitAttempts(test, id)).length, 1, 'a fresh in-flight attempt is not disturbed')
  t.equal(sim(test).overview().submits.total, 1)

  // One that started long ago was cut off (the process died mid-request): outcome unknown.
  await prisma.task.update({
    where: { id },
    data: { submitInFlightAt: new Date(Date.now() - 10 * 60_000) },
  })
  await test.runtime.deps.queue.send('task-submit', { taskId: id })
  const attempts = await waitForAttempt(test, id, 'ambiguous')
  t.same(
    attempts.map((a) => a.outcome),
    ['retry', 'ambiguous'],
  )
  t.match(attempts[1], { reason: /interrupted/ })

  await test.runtime.deps.queue.send('task-submit', { taskId: id })
  await sleep(FEW_POLL_CYCLES_MS)
  const row = await task(test, id)
  t.equal(row.status, 'queued')
  t.equal(row.submitAmbiguous, true)
  t.equal(row.submitInFlightAt, null)
  t.equal(row.errorCode, null)
  t.equal((await submitAttempts(test, id)).length, 2, 'no new attempt')
  const overview = sim(test).overview()
  t.equal(overview.submits.total, 1, 'PoYo saw only the first (429) submit')
  t.equal(overview.created.total, 0)
})

t.test(
  '(i) a submit PoYo does not answer holds up only its own slot: later tasks are submitted meanwhile',
  async (t) => {
    const test = await buildTestApp(t, { PUBLIC_URL, POYO_TIMEOUT_MS: '8000', SIMULATOR_RUN_MS: '600000' })
    // The next submit is accepted and never answered: that attempt waits out its 8 s timeout.
    sim(test).faults.set({ acceptThenHang: true, submitFailNext: 1 })
    const hung = await createTask(test)
    await waitFor(async () => (await task(test, hung)).submitInFlightAt, {
      what: 'the hung attempt in flight',
    })
    const started = Date.now()
    const later = [await createTask(test), await createTask(test), await createTask(test)]
    for (const id of later) {
      await waitFor(async () => (await task(test, id)).status === 'not_started', {
        what: 'a later task submitted while the first attempt hangs',
        timeoutMs: 6_000,
      })
    }
    t.ok(Date.now() - started < 6_000, 'the later tasks did not wait for the hung attempt')
    const row = await task(test, hung)
    t.equal(row.status, 'queued', 'the first task is still waiting for its answer')
    t.not(row.submitInFlightAt, null)
    t.equal((await submitAttempts(test, hung)).length, 0, 'its attempt has no outcome yet')
  },
)
