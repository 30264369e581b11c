/**
 * Polling: PoYo calls back only at the end (and sometimes not at all), so `running`,
 * progress and every missed ending come from polling. Spacing per task, the global cap on
 * status calls, Retry-After, deadlines, two instances sharing one database, and the manual
 * refresh. Real HTTP, real Postgres; PoYo is the simulator (in-process, or a shared one
 * where two instances or a count of PoYo's status requests are needed).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import type { TaskEvent } from '../../src/generated/prisma/client.js'
import { buildSimulator } from '../../src/poyo/simulator/index.js'
import { firstPollDelayMs, nextPollDelayMs } from '../../src/tasks/poll-schedule.js'
import { TaskErrorCode } from '../../src/tasks/status.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import {
  createTask,
  createTasks,
  getTask,
  ofType,
  simTask,
  simulatorOf,
  startLiveApp,
  steps,
  submitNow,
  taskEvents,
  timelineProblems,
} from '../helpers/live-service.js'
import { sleep, waitFor } from '../helpers/wait.js'

t.jobs = 3

const brisk = { POLL_SWEEP_INTERVAL_MS: '200', POLL_MAX_PER_SECOND: '50' }

type PollPayload = {
  status?: string
  progress?: number
  error?: { httpStatus?: number; retryAfterMs?: number; kind?: string }
  retry_in_ms?: number
}
const pollPayload = (event: TaskEvent) => event.payload as PollPayload

/** Waits until every task is in one of `statuses`; returns them. */
function waitForAll(test: TestApp, ids: string[], statuses: string[], timeoutMs: number) {
  return waitFor(
    async () => {
      const tasks = await test.runtime.deps.prisma.task.findMany({ where: { id: { in: ids } } })
      return tasks.length === ids.length && tasks.every((task) => statuses.includes(task.status)) && tasks
    },
    { what: `${ids.length} tasks ${statuses.join('/')}`, timeoutMs, intervalMs: 100 },
  )
}

/**
 * Problems with the spacing of one task's polls: poll k+1 may not come before the delay
 * the k-th poll scheduled (nextPollDelayMs(k)), nor the first before firstPollDelayMs
 * after PoYo accepted the task.
 */
function spacingProblems(events: TaskEvent[]): string[] {
  const problems: string[] = []
  const accepted = ofType(events, 'status_changed').find((e) => e.toStatus === 'not_started')
  const polls = ofType(events, 'poll')
  if (accepted && polls[0]) {
    const gap = polls[0].createdAt.getTime() - accepted.createdAt.getTime()
    if (gap < firstPollDelayMs) problems.push(`first poll ${gap} ms after acceptance`)
  }
  for (let k = 1; k < polls.length; k++) {
    const gap = polls[k]!.createdAt.getTime() - polls[k - 1]!.createdAt.getTime()
    if (gap < nextPollDelayMs(k))
      problems.push(`poll ${k + 1} came ${gap} ms after poll ${k} (< ${nextPollDelayMs(k)})`)
  }
  return problems
}

/** The most calls inside any window of `windowMs`. */
function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}

/** A PoYo simulator outside the app, so several apps can share it and its status calls can be counted. */
async function sharedSimulator(t: Test, runMs: number) {
  const apiKey = randomBytes(12).toString('hex')
  const sim = buildSimulator({ apiKey, runMs })
  const statusCalls: number[] = []
  sim.addHook('onRequest', async (request) => {
    if (request.method === 'GET' && request.url.startsWith('/api/generate/status/'))
      statusCalls.push(Date.now())
  })
  const url = await sim.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => sim.close())
  return { sim, statusCalls, env: { POYO_API_KEY: apiKey, POYO_BASE_URL: url } }
}

t.test('nextPollDelayMs: 2 s first, growing, capped at 30 s', async (t) => {
  t.equal(nextPollDelayMs(0), firstPollDelayMs)
  t.equal(firstPollDelayMs, 2000, 'within PoYo suggested 2-5 s')
  t.equal(nextPollDelayMs(-3), firstPollDelayMs, 'never below the first delay')
  const delays = Array.from({ length: 40 }, (_, attempt) => nextPollDelayMs(attempt))
  const capped = delays.indexOf(30_000)
  t.ok(capped > 2, `reaches the cap after a few polls (attempt ${capped})`)
  for (let i = 1; i < delays.length; i++) {
    if (i <= capped) t.ok(delays[i]! > delays[i - 1]!, `delay ${i} (${delays[i]}) > delay ${i - 1}`)
    else t.equal(delays[i], 30_000, `delay ${i} stays at the cap`)
  }
  t.ok(
    delays.every((delay) => delay <= 30_000),
    'never above 30 s',
  )
  t.equal(nextPollDelayMs(1_000_000), 30_000, 'huge attempt counts stay capped (no Infinity)')
})

t.test(
  'with every callback lost, 20 tasks finish by polling alone, one status change per step',
  async (t) => {
    const live = await startLiveApp(t, {
      ...brisk,
      // Polls come 2 s, 5 s and 9.5 s after acceptance: two see the task running, the third finished.
      SIMULATOR_RUN_MS: '9000',
      RATE_LIMIT_PER_MINUTE: '1000000',
    })
    const sim = simulatorOf(live)
    sim.faults.set({ dropCallbacks: 1 })
    const ids = await createTasks(20, () => createTask(live))

    // Watch as a client would, while the poller works.
    const seen = new Map<string, { status: string; progress: number }[]>()
    let watching = true
    const watcher = (async () => {
      while (watching) {
        for (const id of ids) {
          const { status, progress } = (
            await live.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })
          ).json()
          seen.set(id, [...(seen.get(id) ?? []), { status, progress }])
        }
        await sleep(100)
      }
    })()
    const tasks = await waitForAll(live, ids, ['finished', 'failed'], 30_000).finally(async () => {
      watching = false
      await watcher
    })

    t.ok(
      tasks.every((task) => task.status === 'finished'),
      'all finished',
    )
    t.equal(sim.overview().dropped_callbacks.length, 20, 'PoYo dropped every callback')
    t.same(sim.overview().callbacks, [], 'and sent none')
    t.equal(await live.runtime.deps.prisma.taskEvent.count({ where: { type: 'callback' } }), 0)

    let risingPolls = 0
    let throughRunning = 0
    for (const task of tasks) {
      const events = await taskEvents(live, task.id)
      const taken = steps(events)
      t.equal(taken[0], 'queued→not_started', `${task.id}: accepted once, first`)
      t.match(taken.at(-1), /→finished$/, `${task.id}: finished last`)
      t.same(taken, [...new Set(taken)], `${task.id}: no step twice (${taken.join(', ')})`)
      t.same(timelineProblems(events), [], `${task.id}: forward only`)
      if (taken.includes('not_started→running')) throughRunning++
      t.equal(ofType(events, 'status_changed').at(-1)?.source, 'poller')
      t.equal((task.files as unknown[]).length, 2, 'with the files PoYo reported')
      t.equal(task.credits, simTask(live, task.providerTaskId!).credits)

      const polls = ofType(events, 'poll').map(pollPayload)
      t.ok(polls.length >= 1, `${polls.length} polls`)
      const progress = polls.map((p) => p.progress ?? -1)
      t.same(
        progress,
        [...progress].sort((a, b) => a - b),
        `poll progress never falls: ${progress}`,
      )
      const running = polls.filter((p) => p.status === 'running').map((p) => p.progress!)
      if (running.length >= 2 && running.at(-1)! > running[0]!) risingPolls++
      t.same(spacingProblems(events), [], 'polls spaced per the schedule')
    }
    // Every task should pass through running (its first poll is 7 s before PoYo finishes); a
    // heavily loaded machine may delay a few polls past that.
    t.ok(throughRunning >= tasks.length / 2, `${throughRunning} of ${tasks.length} tasks seen running`)
    t.ok(risingPolls > 0, `progress rose between polls of a running task (${risingPolls} tasks)`)

    const runningSightings = [...seen.values()].flat().filter((s) => s.status === 'running')
    t.ok(
      runningSightings.some((s) => s.progress > 0 && s.progress < 100),
      'a client saw a running task with partial progress',
    )
    for (const [id, sightings] of seen) {
      const values = sightings.map((s) => (s.status === 'finished' ? 100 : s.progress))
      t.same(
        values,
        [...values].sort((a, b) => a - b),
        `${id}: progress seen by the client never falls`,
      )
    }
  },
)

t.test('the global cap on status calls holds with many tasks due', async (t) => {
  const cap = 5
  const { statusCalls, env } = await sharedSimulator(t, 600_000)
  const test = await buildTestApp(t, {
    ...env,
    POLL_MAX_PER_SECOND: String(cap),
    POLL_SWEEP_INTERVAL_MS: '1000',
  })
  const ids = await createTasks(30, () => createTask(test))
  await waitForAll(test, ids, ['not_started', 'running'], 20_000)

  await waitFor(() => statusCalls.length > 0, { what: 'the first status call', timeoutMs: 8000 })
  const from = statusCalls[0]!
  await sleep(5000)
  const window = statusCalls.filter((at) => at >= from && at < from + 5000)
  const busiest = busiestWindow(window)
  // One call of tolerance: the sweep chain is re-linked every 15 s, and on a slow machine a
  // second link could start a sweep right after another ends.
  t.ok(busiest <= cap + 1, `at most ${cap} (+1) status calls in any second (busiest: ${busiest})`)
  t.ok(window.length >= cap, `the poller kept polling (${window.length} calls in 5 s)`)
  const due = await test.runtime.deps.prisma.task.count({
    where: { id: { in: ids }, nextPollAt: { lte: new Date() } },
  })
  t.ok(due > 0, `there was more work than the cap allowed (${due} tasks waiting)`)
})

t.test("a 429 with Retry-After pushes the task's next poll back at least that long", async (t) => {
  const live = await startLiveApp(t, { ...brisk, SIMULATOR_RUN_MS: '3000' })
  // The first status call answers 429 with Retry-After: 5; the ones after it succeed.
  simulatorOf(live).faults.set({ dropCallbacks: 1, status429: true, retryAfterSeconds: 5, statusFailNext: 1 })
  const taskId = await createTask(live)
  await waitForAll(live, [taskId], ['finished'], 15_000)

  const polls = ofType(await taskEvents(live, taskId), 'poll')
  t.ok(polls.length >= 2)
  const [limited, next] = polls
  t.match(pollPayload(limited!), { error: { httpStatus: 429, retryAfterMs: 5000 }, retry_in_ms: 5000 })
  const gap = next!.createdAt.getTime() - limited!.createdAt.getTime()
  t.ok(gap >= 5000, `next poll ${gap} ms later (Retry-After 5 s)`)
  t.equal(pollPayload(next!).status, 'finished')
  t.ok(
    live.logs.some((line) => line['msg'] === 'poll sweep' && line['backedOffMs'] === 5000),
    'the sweep backed off',
  )
})

t.test('a task past its deadline fails with deadline_exceeded and a clear reason', async (t) => {
  const live = await startLiveApp(t, { ...brisk, SIMULATOR_RUN_MS: '600000', POYO_TIMEOUT_MS: '500' })
  const sim = simulatorOf(live)
  const prisma = live.runtime.deps.prisma
  sim.faults.set({ dropCallbacks: 1 })
  const running = await createTask(live)
  await waitForAll(live, [running], ['not_started', 'running'], 8000)
  // A second task whose submit answer is lost: queued, nothing to poll.
  sim.faults.set({ acceptThenHang: true })
  const lost = await createTask(live)
  await waitFor(async () => (await getTask(live, lost)).submitAmbiguous, { what: 'the ambiguous submit' })

  await prisma.task.updateMany({
    where: { id: { in: [running, lost] } },
    data: { deadlineAt: new Date(Date.now() - 1000) },
  })
  await waitForAll(live, [running, lost], ['failed'], 5000)

  const a = await getTask(live, running)
  t.match(a, {
    errorCode: TaskErrorCode.deadlineExceeded,
    errorMessage: 'PoYo gave no final answer before the task deadline',
  })
  // PoYo's word still beats our timeout: the task is asked about again, sparsely.
  const nextPoll = a.nextPollAt?.getTime() ?? 0
  t.ok(nextPoll > Date.now() + 9 * 60_000, 'polled again in about ten minutes, not at the usual pace')
  t.ok(a.finishedAt)
  const b = await getTask(live, lost)
  t.equal(b.errorCode, TaskErrorCode.deadlineExceeded)
  t.match(b.errorMessage, /never confirmed a submit whose answer was lost/)
  for (const id of [running, lost]) {
    const change = ofType(await taskEvents(live, id), 'status_changed').at(-1)
    t.match(change, { toStatus: 'failed', source: 'system', payload: { reason: 'deadline' } })
  }
  const resource = (await live.app.inject({ method: 'GET', url: `/v1/tasks/${running}` })).json()
  t.match(resource, { status: 'failed', error: { code: 'deadline_exceeded', message: /deadline/ } })

  // Not at the usual pace: no poll within the next seconds (one would have been due by now).
  const polls = ofType(await taskEvents(live, running), 'poll').length
  await sleep(2500)
  t.equal(ofType(await taskEvents(live, running), 'poll').length, polls, 'no more polls')
  t.equal((await getTask(live, running)).status, 'failed')
})

t.test(
  'a task failed for its deadline still becomes finished when a later poll finds it finished',
  async (t) => {
    const live = await startLiveApp(t, { ...brisk, SIMULATOR_RUN_MS: '3000' })
    const sim = simulatorOf(live)
    const prisma = live.runtime.deps.prisma
    sim.faults.set({ dropCallbacks: 1 })
    const taskId = await createTask(live)
    await waitForAll(live, [taskId], ['not_started', 'running'], 8000)
    await prisma.task.updateMany({ where: { id: taskId }, data: { deadlineAt: new Date(Date.now() - 1000) } })
    await waitForAll(live, [taskId], ['failed'], 5000)
    // Once PoYo has finished it, the next (sparse) poll is made due now rather than in ten minutes.
    await sleep(3500)
    await prisma.task.updateMany({ where: { id: taskId }, data: { nextPollAt: new Date() } })
    await waitForAll(live, [taskId], ['finished'], 8000)
    const task = await getTask(live, taskId)
    t.equal(task.errorCode, null, 'the deadline error is cleared')
    t.equal(task.nextPollAt, null, 'no more polls once finished')
    const changes = ofType(await taskEvents(live, taskId), 'status_changed').map((e) => e.toStatus)
    t.same(changes.slice(-2), ['failed', 'finished'])
  },
)

t.test(
  'two instances on one database never poll a task concurrently, and each task finishes once',
  async (t) => {
    const { statusCalls, env } = await sharedSimulator(t, 4000)
    const settings = { ...env, ...brisk, LOG_LEVEL: 'debug' }
    const a = await buildTestApp(t, settings)
    const b = await buildTestApp(t, settings, { databaseUrl: a.databaseUrl })
    const ids = await createTasks(20, (i) => (i % 2 ? createTask(a) : createTask(b, undefined, a.adminKey)))
    const tasks = await waitForAll(a, ids, ['finished', 'failed'], 30_000)
    t.ok(
      tasks.every((task) => task.status === 'finished'),
      'all finished',
    )

    for (const id of ids) {
      const events = await taskEvents(a, id)
      const finishing = ofType(events, 'status_changed').filter((e) => e.toStatus === 'finished')
      t.equal(finishing.length, 1, `${id}: finished once`)
      t.same(timelineProblems(events), [])
      t.same(spacingProblems(events), [], `${id}: never polled twice within its spacing`)
    }
    // One sweep runs at a time cluster-wide, on whichever instance takes the job: the two
    // instances share the work, but not necessarily half and half (one may do all of it).
    const statusCallsBy = (test: TestApp) =>
      test.logs.filter((line) => line['endpoint'] === 'status' && line['msg'] === 'poyo call').length
    t.ok(
      statusCallsBy(a) + statusCallsBy(b) > 0,
      `polled (${statusCallsBy(a)} and ${statusCallsBy(b)} calls)`,
    )
    const polls = await a.runtime.deps.prisma.taskEvent.count({ where: { type: 'poll' } })
    t.equal(statusCalls.length, polls, 'one status call per recorded poll')
  },
)

t.test('the global cap holds across two instances', async (t) => {
  const cap = 5
  const { statusCalls, env } = await sharedSimulator(t, 600_000)
  const settings = { ...env, POLL_MAX_PER_SECOND: String(cap), POLL_SWEEP_INTERVAL_MS: '1000' }
  const a = await buildTestApp(t, settings)
  const b = await buildTestApp(t, settings, { databaseUrl: a.databaseUrl })
  const ids = await createTasks(30, (i) => (i % 2 ? createTask(a) : createTask(b, undefined, a.adminKey)))
  await waitForAll(a, ids, ['not_started', 'running'], 20_000)
  await waitFor(() => statusCalls.length > 0, { what: 'the first status call', timeoutMs: 8000 })
  const from = statusCalls[0]!
  await sleep(5000)
  const window = statusCalls.filter((at) => at >= from && at < from + 5000)
  t.ok(window.length >= cap, `the instances kept polling (${window.length} calls in 5 s)`)
  const busiest = busiestWindow(window)
  t.ok(
    busiest <= cap + 1,
    `at most ${cap} (+1) status calls in any second across both instances (busiest: ${busiest})`,
  )
})

t.test('POST /v1/tasks/{id}/refresh asks PoYo now', async (t) => {
  const live = await startLiveApp(t, { WORKERS_ENABLED: 'false', SIMULATOR_RUN_MS: '3000' })
  const sim = simulatorOf(live)
  const refresh = (id: string) => live.app.inject({ method: 'POST', url: `/v1/tasks/${id}/refresh` })
  const taskId = await createTask(live)

  const notYet = await refresh(taskId)
  t.equal(notYet.statusCode, 409, 'not at PoYo yet: nothing to ask')
  t.match(notYet.json(), { code: 'TASK_NOT_SUBMITTED' })
  t.equal((await refresh(randomUUID())).statusCode, 404, 'unknown id')
  t.equal((await refresh('not-a-task-id')).statusCode, 400, 'not an id')
  t.same(ofType(await taskEvents(live, taskId), 'poll'), [], 'no poll recorded for the refusals')

  const providerId = await submitNow(live, taskId)
  await waitFor(() => simTask(live, providerId).status === 'running', { what: 'PoYo running' })
  const whileRunning = await refresh(taskId)
  t.equal(whileRunning.statusCode, 200)
  const runningBody = whileRunning.json()
  t.match(runningBody, { id: taskId, status: 'running', provider_task_id: providerId })
  t.ok(runningBody.progress > 0 && runningBody.progress < 100, `progress ${runningBody.progress}`)
  t.ok(runningBody.started_at)

  sim.faults.set({ statusStatus5xx: 502 })
  const down = await refresh(taskId)
  t.equal(down.statusCode, 503, 'PoYo down: 503')
  t.match(down.json(), { code: 'SERVICE_UNAVAILABLE' })
  sim.faults.set({ statusStatus5xx: null })

  await waitFor(() => simTask(live, providerId).status === 'finished', {
    what: 'PoYo finished',
    timeoutMs: 5000,
  })
  const done = await refresh(taskId)
  t.equal(done.statusCode, 200)
  t.match(done.json(), { status: 'finished', progress: 100, error: null })
  t.equal(done.json().files.length, 2)
  t.ok(done.json().finished_at)
  const again = await refresh(taskId)
  t.equal(again.statusCode, 200, 'refreshing a finished task is harmless')
  t.same(again.json().files, done.json().files)

  const events = await taskEvents(live, taskId)
  t.same(steps(events), ['queued→not_started', 'not_started→running', 'running→finished'])
  t.ok(
    ofType(events, 'status_changed')
      .slice(1)
      .every((e) => e.source === 'poller'),
  )
  const polls = ofType(events, 'poll').map(pollPayload)
  t.equal(polls.length, 4, 'every refresh that reached PoYo is a poll event')
  t.match(polls, [
    { status: 'running' },
    { error: { httpStatus: 502 } },
    { status: 'finished' },
    { status: 'finished' },
  ])
  t.match(ofType(events, 'ignored_update').at(-1)?.payload, { verdict: 'duplicate' })
})
