/**
 * What an authenticated callback does to a task: applied as sent (confirmation off) or as
 * PoYo's status endpoint tells it (the default), kept for the poller when PoYo cannot be
 * asked, deduplicated, never moving a task backwards, adopting a task whose submit answer was
 * lost, beating our own deadline, and asking PoYo to retry (503) while the database is away.
 * Real HTTP, real Postgres and the in-process simulator.
 */
import t, { type Test } from 'tap'
import { TaskErrorCode } from '../../src/tasks/status.js'
import { refuseConnections } from '../helpers/database.js'
import {
  createTask,
  getTask,
  type LiveApp,
  ofType,
  postCallback,
  poyoData,
  simTask,
  simulatorOf,
  startLiveApp,
  steps,
  submitNow,
  taskEvents,
  timelineProblems,
} from '../helpers/live-service.js'
import { waitFor } from '../helpers/wait.js'

t.jobs = 3

/** Short simulated runs and a brisk poller. */
const brisk = { SIMULATOR_RUN_MS: '300', POLL_SWEEP_INTERVAL_MS: '200', POLL_MAX_PER_SECOND: '50' }

const waitForStatus = (live: LiveApp, taskId: string, status: string, timeoutMs = 8000) =>
  waitFor(
    async () => {
      const task = await getTask(live, taskId)
      return task.status === status && task
    },
    { what: `task ${taskId} ${status}`, timeoutMs },
  )

const waitForSimStatus = (live: LiveApp, providerId: string, status: string, timeoutMs = 5000) =>
  waitFor(() => simTask(live, providerId).status === status, {
    what: `PoYo task ${providerId} ${status}`,
    timeoutMs,
  })

/** The simulator's output files for one of its tasks, as the service stores them. */
const simFiles = (providerId: string) => [
  { url: `https://files.poyo.sim/${providerId}/thumbnail.jpg`, type: 'image' },
  { url: `https://files.poyo.sim/${providerId}/output.mp4`, type: 'video' },
]

function assertSoundTimeline(t: Test, events: Awaited<ReturnType<typeof taskEvents>>, allowRevive = false) {
  t.same(timelineProblems(events, { allowRevive }), [], `forward-only timeline: ${steps(events).join(', ')}`)
}

t.test('confirmation off: a finished callback is applied as sent', async (t) => {
  // PoYo's own task runs for minutes: only the body can make our task finished.
  const live = await startLiveApp(t, {
    CALLBACK_CONFIRM: 'false',
    WORKERS_ENABLED: 'false',
    SIMULATOR_RUN_MS: '600000',
  })
  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  const before = await getTask(live, taskId)
  t.match(before, { status: 'not_started', progress: 0, startedAt: null, finishedAt: null, credits: null })

  const answer = await postCallback(live, taskId, poyoData(providerId, { credits_amount: 42 }))
  t.same(answer, { status: 200, body: { received: true, outcome: 'applied' } })

  const task = await getTask(live, taskId)
  t.match(task, {
    status: 'finished',
    progress: 100,
    credits: 42,
    errorCode: null,
    providerTaskId: providerId,
  })
  t.same(task.files, [
    { url: `https://files.example/${providerId}/thumb.jpg`, type: 'image' },
    { url: `https://files.example/${providerId}/out.mp4`, type: 'video' },
  ])
  t.ok(task.finishedAt, 'finished_at set')
  t.ok(task.startedAt, 'started_at set (it never reported running, but it did run)')
  t.ok(task.startedAt! <= task.finishedAt!)
  t.equal(task.nextPollAt, null, 'no more polling')
  t.not(simTask(live, providerId).status, 'finished', 'PoYo itself was not asked')

  const events = await taskEvents(live, taskId)
  t.same(steps(events), ['queued→not_started', 'not_started→finished'])
  t.equal(ofType(events, 'status_changed').at(-1)?.source, 'callback')

  const resource = (await live.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}` })).json()
  t.match(resource, { status: 'finished', progress: 100, credits: 42, error: null })
  t.ok(resource.started_at && resource.finished_at)
})

t.test("confirmation on: PoYo's own callback finishes the task with PoYo's files and credits", async (t) => {
  const live = await startLiveApp(t, brisk)
  const taskId = await createTask(live)
  const task = await waitForStatus(live, taskId, 'finished')
  const providerId = task.providerTaskId!
  const sim = simTask(live, providerId)
  t.match(task, { progress: 100, credits: sim.credits, errorCode: null })
  t.ok(sim.credits > 0)
  t.same(task.files, simFiles(providerId))
  t.ok(task.startedAt && task.finishedAt)

  const events = await taskEvents(live, taskId)
  const callback = ofType(events, 'callback')[0]
  t.ok(callback, 'the callback was stored')
  t.match(callback?.payload, { confirm: true, body: { task_id: providerId, status: 'finished' } })
  const finishing = ofType(events, 'status_changed').find((e) => e.toStatus === 'finished')
  t.equal(finishing?.source, 'callback', 'finished by the callback (the first poll is 2 s away)')
  t.ok(callback!.id < finishing!.id)
  assertSoundTimeline(t, events)
  // The answer reaches PoYo after the change commits: wait for the simulator to record it.
  const answered = await waitFor(
    () => simulatorOf(live).overview().callbacks.length > 0 && simulatorOf(live).overview().callbacks,
    { what: "PoYo's record of our answer" },
  )
  t.match(answered, [{ taskId: providerId, httpStatus: 200, ok: true }])
})

t.test('confirmation on: a forged body is checked against PoYo, and PoYo wins', async (t) => {
  const live = await startLiveApp(t, { WORKERS_ENABLED: 'false', SIMULATOR_RUN_MS: '600000' })
  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  await waitForSimStatus(live, providerId, 'running')

  const forged = poyoData(providerId, {
    files: [{ file_url: 'https://evil.example/payload.mp4', file_type: 'video' }],
    credits_amount: 1,
  })
  const answer = await postCallback(live, taskId, forged)
  t.equal(answer.status, 200)
  t.equal(answer.body.outcome, 'applied', "PoYo's answer (running) was applied")

  let task = await getTask(live, taskId)
  t.equal(task.status, 'running', 'not finished: PoYo says it is running')
  t.same(task.files, [], 'the forged files were not stored')
  t.equal(task.credits, null)
  t.equal(task.finishedAt, null)
  t.ok(task.progress > 0 && task.progress < 100, `progress from PoYo (${task.progress})`)

  const failed = await postCallback(
    live,
    taskId,
    poyoData(providerId, { status: 'failed', error_message: 'forged' }),
  )
  t.equal(failed.status, 200)
  t.ok(
    ['progress', 'duplicate'].includes(failed.body.outcome),
    `a forged failure is not applied (${failed.body.outcome})`,
  )
  task = await getTask(live, taskId)
  t.equal(task.status, 'running')
  t.equal(task.errorCode, null)

  // A callback naming another PoYo task than ours is recorded and ignored.
  const other = await postCallback(live, taskId, poyoData('task-unified-1700000000-someone'))
  t.same(other.body, { received: true, outcome: 'mismatch' })
  const events = await taskEvents(live, taskId)
  t.match(ofType(events, 'ignored_update').at(-1)?.payload, {
    verdict: 'mismatch',
    provider_task_id: providerId,
    callback_task_id: 'task-unified-1700000000-someone',
  })
  t.equal(ofType(events, 'callback').length, 3, 'every callback stored')
  t.same(
    events.slice(-2).map((event) => event.type),
    ['callback', 'ignored_update'],
    'the mismatched callback, then why it was ignored',
  )
  t.same(steps(events), ['queued→not_started', 'not_started→running'])
  t.equal((await getTask(live, taskId)).status, 'running')
})

t.test(
  'when PoYo cannot confirm, the callback is kept, answered deferred, and polling finishes the task',
  async (t) => {
    const live = await startLiveApp(t, brisk)
    const sim = simulatorOf(live)
    // Only our own callback arrives, and PoYo's status endpoint is down.
    sim.faults.set({ dropCallbacks: 1, statusStatus5xx: 503 })
    const taskId = await createTask(live)
    const { providerTaskId } = await waitForStatus(live, taskId, 'not_started')
    const providerId = providerTaskId!
    await waitForSimStatus(live, providerId, 'finished')

    const answer = await postCallback(live, taskId, poyoData(providerId))
    t.same(answer, { status: 200, body: { received: true, outcome: 'deferred' } }, 'PoYo must not retry: 2xx')
    let events = await taskEvents(live, taskId)
    t.equal(ofType(events, 'callback').length, 1, 'the callback is stored')
    t.not((await getTask(live, taskId)).status, 'finished', 'not applied unconfirmed')

    // The poller meets the same outage: still not finished after it has tried.
    await waitFor(
      async () =>
        ofType(await taskEvents(live, taskId), 'poll').some((e) => (e.payload as { error?: unknown }).error),
      { what: 'a failed poll', timeoutMs: 8000 },
    )
    t.not((await getTask(live, taskId)).status, 'finished', 'still not finished while PoYo is down')

    sim.faults.set({ statusStatus5xx: null })
    const task = await waitForStatus(live, taskId, 'finished', 15_000)
    t.same(task.files, simFiles(providerId))
    events = await taskEvents(live, taskId)
    const finishing = ofType(events, 'status_changed').at(-1)
    t.equal(finishing?.source, 'poller', 'finished by polling')
    t.ok(ofType(events, 'callback')[0]!.id < finishing!.id)
    assertSoundTimeline(t, events)
    t.equal(ofType(events, 'callback').length, 1)
  },
)

t.test('duplicate callbacks: one status change, the rest recorded as duplicates', async (t) => {
  const live = await startLiveApp(t, { ...brisk, WORKERS_ENABLED: 'false' })
  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  await waitForSimStatus(live, providerId, 'finished')

  const body = poyoData(providerId)
  const outcomes: string[] = []
  for (let i = 0; i < 3; i++) outcomes.push((await postCallback(live, taskId, body)).body.outcome)
  t.same(outcomes, ['applied', 'duplicate', 'duplicate'])

  const events = await taskEvents(live, taskId)
  t.same(steps(events), ['queued→not_started', 'not_started→finished'])
  t.equal(ofType(events, 'callback').length, 3)
  const ignored = ofType(events, 'ignored_update')
  t.equal(ignored.length, 2)
  for (const event of ignored) {
    t.equal(event.source, 'callback')
    t.match(event.payload, { verdict: 'duplicate', current: 'finished', reported: 'finished' })
  }
  t.equal((await getTask(live, taskId)).status, 'finished')
})

t.test("PoYo's duplicated, wrapped callbacks (sent together) change the task once", async (t) => {
  const live = await startLiveApp(t, brisk)
  simulatorOf(live).faults.set({ duplicateCallbacks: true, wrapCallbacks: true })
  const taskId = await createTask(live)
  const { providerTaskId } = await waitForStatus(live, taskId, 'finished')
  await waitFor(() => simulatorOf(live).overview().callbacks.length === 2, { what: 'both copies' })
  t.match(simulatorOf(live).overview().callbacks, [
    { taskId: providerTaskId, wrapped: true, ok: true },
    { taskId: providerTaskId, wrapped: true, ok: true },
  ])

  const events = await taskEvents(live, taskId)
  const callbacks = ofType(events, 'callback')
  t.equal(callbacks.length, 2)
  for (const event of callbacks) t.match(event.payload, { body: { code: 200, data: { status: 'finished' } } })
  t.equal(ofType(events, 'status_changed').filter((e) => e.toStatus === 'finished').length, 1)
  const fromCallbacks = ofType(events, 'ignored_update').filter((e) => e.source === 'callback')
  t.equal(fromCallbacks.length, 1, 'the second copy is recorded as a duplicate')
  t.match(fromCallbacks[0]?.payload, { verdict: 'duplicate' })
  assertSoundTimeline(t, events)
})

t.test('stale reports after the end are ignored: finished stays finished', async (t) => {
  const live = await startLiveApp(t, {
    CALLBACK_CONFIRM: 'false',
    WORKERS_ENABLED: 'false',
    SIMULATOR_RUN_MS: '600000',
  })
  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  t.equal((await postCallback(live, taskId, poyoData(providerId))).body.outcome, 'applied')
  const finished = await getTask(live, taskId)

  const late: [string, object][] = [
    [
      'running at 50%',
      poyoData(providerId, { status: 'running', progress: 50, files: [], credits_amount: 0 }),
    ],
    [
      'not_started',
      poyoData(providerId, { status: 'not_started', progress: 0, files: [], credits_amount: 0 }),
    ],
    ['failed', poyoData(providerId, { status: 'failed', progress: 99, files: [], error_message: 'late' })],
  ]
  for (const [what, body] of late) {
    const answer = await postCallback(live, taskId, body)
    t.same(answer.body, { received: true, outcome: 'stale' }, `${what} after finished: stale`)
  }
  const task = await getTask(live, taskId)
  t.same(task, finished, 'the task row did not change at all')

  const events = await taskEvents(live, taskId)
  t.same(steps(events), ['queued→not_started', 'not_started→finished'])
  t.match(
    ofType(events, 'ignored_update').map((e) => e.payload),
    [
      { verdict: 'stale', current: 'finished', reported: 'running' },
      { verdict: 'stale', current: 'finished', reported: 'not_started' },
      { verdict: 'stale', current: 'finished', reported: 'failed' },
    ],
  )
})

t.test('a failed callback fails the task with PoYo message and no credits', async (t) => {
  const live = await startLiveApp(t, brisk)
  const message = 'Content rejected by the model (simulated)'
  simulatorOf(live).faults.set({ failTasks: 1, failMessage: message })
  const taskId = await createTask(live)
  const task = await waitForStatus(live, taskId, 'failed')
  t.match(task, { errorCode: TaskErrorCode.providerFailed, errorMessage: message, credits: 0 })
  t.same(task.files, [])
  t.ok(task.finishedAt)

  const events = await taskEvents(live, taskId)
  t.equal(ofType(events, 'status_changed').at(-1)?.source, 'callback')
  assertSoundTimeline(t, events)
  const resource = (await live.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}` })).json()
  t.match(resource, { status: 'failed', credits: 0, error: { code: 'provider_failed', message } })
})

t.test('a task whose submit answer was lost is adopted by its callback', async (t) => {
  const live = await startLiveApp(t, { ...brisk, POYO_TIMEOUT_MS: '500' })
  const sim = simulatorOf(live)
  // PoYo creates the task but never answers the submit; its callback comes well after our timeout.
  sim.faults.set({ acceptThenHang: true, delayCallbacksMs: 2500 })
  const taskId = await createTask(live)
  await waitFor(
    async () =>
      ofType(await taskEvents(live, taskId), 'submit_attempt').some(
        (e) => (e.payload as { outcome?: string }).outcome === 'ambiguous',
      ),
    { what: 'the ambiguous submit attempt' },
  )
  const waiting = await getTask(live, taskId)
  t.match(
    waiting,
    { status: 'queued', providerTaskId: null, submitAmbiguous: true },
    'ambiguous, nothing to poll',
  )
  const [created] = sim.overview().tasks
  t.ok(created, 'PoYo did create the task')

  const task = await waitForStatus(live, taskId, 'finished', 10_000)
  t.match(task, {
    providerTaskId: created!.task_id,
    submitAmbiguous: false,
    progress: 100,
    credits: created!.credits,
  })
  t.same(task.files, simFiles(created!.task_id))
  t.ok(task.submittedAt && task.startedAt && task.finishedAt)
  const events = await taskEvents(live, taskId)
  t.same(steps(events), ['queued→finished'])
  t.equal(ofType(events, 'status_changed')[0]?.source, 'callback')
  t.equal(sim.overview().submits.total, 1, 'never resubmitted')
  t.equal(sim.overview().created.total, 1)
})

t.test("PoYo's finished beats our own deadline failure", async (t) => {
  // PoYo takes 6 s; our deadline (moved into the past) fails the task long before that.
  const live = await startLiveApp(t, { ...brisk, SIMULATOR_RUN_MS: '6000' })
  const prisma = live.runtime.deps.prisma
  const taskId = await createTask(live)
  await waitForStatus(live, taskId, 'not_started')
  await prisma.task.update({ where: { id: taskId }, data: { deadlineAt: new Date(Date.now() - 1000) } })

  const failed = await waitForStatus(live, taskId, 'failed', 4000)
  t.equal(failed.errorCode, TaskErrorCode.deadlineExceeded)
  t.match(failed.errorMessage, /deadline/)

  const task = await waitForStatus(live, taskId, 'finished', 10_000)
  t.match(task, { errorCode: null, errorMessage: null, progress: 100 })
  t.same(task.files, simFiles(task.providerTaskId!))
  t.ok(task.credits && task.credits > 0)
  t.ok(task.finishedAt! >= failed.finishedAt!)

  const events = await taskEvents(live, taskId)
  const changes = ofType(events, 'status_changed')
  t.equal(changes.at(-2)?.toStatus, 'failed')
  t.equal(changes.at(-2)?.source, 'system')
  t.match(changes.at(-1), {
    fromStatus: 'failed',
    toStatus: 'finished',
    source: 'callback',
    payload: { revived: true },
  })
  assertSoundTimeline(t, events, true)
  const resource = (await live.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}` })).json()
  t.match(resource, { status: 'finished', error: null })
})

t.test('while the database is unavailable a callback gets 503, and the retry is applied', async (t) => {
  const live = await startLiveApp(t, { ...brisk, WORKERS_ENABLED: 'false' })
  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  await waitForSimStatus(live, providerId, 'finished')

  const allowConnections = await refuseConnections(t, live.databaseUrl)

  const body = poyoData(providerId)
  const started = Date.now()
  const refused = await postCallback(live, taskId, body)
  t.equal(refused.status, 503, 'PoYo retries non-2xx answers')
  t.match(refused.body, { status: 503, code: 'SERVICE_UNAVAILABLE' })
  t.ok(Date.now() - started < 20_000, 'answered well within PoYo 30 s limit')

  await allowConnections()
  const retried = await waitFor(
    async () => {
      const answer = await postCallback(live, taskId, body)
      return answer.status === 200 && answer
    },
    { what: 'the retried callback to be accepted', timeoutMs: 10_000, intervalMs: 200 },
  )
  t.same(retried.body, { received: true, outcome: 'applied' })
  const task = await getTask(live, taskId)
  t.equal(task.status, 'finished')
  t.same(task.files, simFiles(providerId))
  const events = await taskEvents(live, taskId)
  t.equal(ofType(events, 'callback').length, 1, 'the refused attempt left nothing behind')
  t.same(steps(events), ['queued→not_started', 'not_started→finished'])
})
