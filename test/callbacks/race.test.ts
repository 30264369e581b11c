/**
 * A callback and polls racing on the same task: PoYo's finished callback arrives three
 * times at once while a client asks for a refresh, for many tasks. Every change is a
 * compare-and-set, so each task must end finished with exactly one change into finished
 * and a timeline that never goes backwards.
 */
import t, { type Test } from 'tap'
import {
  type CallbackAnswer,
  createTask,
  createTasks,
  getTask,
  type LiveApp,
  ofType,
  postCallback,
  poyoData,
  simTask,
  startLiveApp,
  steps,
  submitNow,
  taskEvents,
  timelineProblems,
} from '../helpers/live-service.js'
import { waitFor } from '../helpers/wait.js'

t.jobs = 2

const TASKS = 30
/** The production default pool (tests use 4): twenty requests at once should not queue on it. */
const POOL = { DATABASE_POOL_SIZE: '10' }

/** Creates `TASKS` tasks and submits them by hand (the app runs no workers: the test is the only actor). */
async function submittedTasks(live: LiveApp) {
  const ids = await createTasks(TASKS, () => createTask(live))
  const providerIds = new Map<string, string>()
  for (const id of ids) providerIds.set(id, await submitNow(live, id))
  return { ids, providerIds }
}

/** POST /v1/tasks/{id}/refresh over HTTP, as the admin. */
async function refreshOverHttp(live: LiveApp, id: string) {
  const response = await fetch(`${live.baseUrl}/v1/tasks/${id}/refresh`, {
    method: 'POST',
    headers: { authorization: `Bearer ${live.adminKey}` },
  })
  return { status: response.status, body: await response.json() }
}

/**
 * For every task: three copies of the finished callback and a refresh, all at once, the
 * refresh going out first, last or in between (varying per task). Five tasks race at a time:
 * with all thirty at once the database pool queues everything and one order always wins.
 */
async function race(live: LiveApp, ids: string[], providerIds: Map<string, string>) {
  const raceOne = async (id: string, index: number) => {
    const body = poyoData(providerIds.get(id)!)
    const callbacks: Promise<CallbackAnswer>[] = []
    let refresh: Promise<CallbackAnswer> | undefined
    for (let slot = 0; slot < 4; slot++) {
      if (slot === index % 4) refresh = refreshOverHttp(live, id)
      else callbacks.push(postCallback(live, id, body))
    }
    return { id, refresh: await refresh!, callbacks: await Promise.all(callbacks) }
  }
  const results: Awaited<ReturnType<typeof raceOne>>[] = []
  for (let start = 0; start < ids.length; start += 5) {
    const group = ids.slice(start, start + 5)
    results.push(...(await Promise.all(group.map((id, i) => raceOne(id, start + i)))))
  }
  return results
}

async function assertRaceOutcome(t: Test, live: LiveApp, ids: string[], reports: number) {
  for (const id of ids) {
    const task = await getTask(live, id)
    const events = await taskEvents(live, id)
    const intoFinished = ofType(events, 'status_changed').filter((e) => e.toStatus === 'finished')
    t.equal(task.status, 'finished', `${id}: finished`)
    t.equal(intoFinished.length, 1, `${id}: exactly one change into finished (${steps(events).join(', ')})`)
    t.same(timelineProblems(events), [], `${id}: never backwards`)
    t.equal(task.progress, 100)
    t.equal(ofType(events, 'callback').length, 3, `${id}: every callback stored`)
    t.equal(ofType(events, 'poll').length, 1, `${id}: the refresh is one poll`)
    // Each report either changed the status or was recorded as ignored: none lost, none twice.
    const changesByReports = ofType(events, 'status_changed').filter((e) => e.source !== 'submitter').length
    t.equal(
      changesByReports + ofType(events, 'ignored_update').length,
      reports,
      `${id}: all ${reports} reports accounted for`,
    )
  }
}

t.test('confirmed callbacks racing a refresh: one change into finished per task', async (t) => {
  const live = await startLiveApp(t, { ...POOL, WORKERS_ENABLED: 'false', SIMULATOR_RUN_MS: '300' })
  const { ids, providerIds } = await submittedTasks(live)
  await waitFor(() => ids.every((id) => simTask(live, providerIds.get(id)!).status === 'finished'), {
    what: 'PoYo to finish every task',
  })

  const results = await race(live, ids, providerIds)
  for (const { id, refresh, callbacks } of results) {
    t.equal(refresh.status, 200, `${id}: refresh answered`)
    t.equal(refresh.body.status, 'finished', `${id}: refresh returns the finished task`)
    t.same(
      callbacks.map((c) => c.status),
      [200, 200, 200],
      `${id}: every callback acknowledged`,
    )
    const outcomes = callbacks.map((c) => c.body.outcome)
    t.ok(
      outcomes.every((o) => o === 'applied' || o === 'duplicate'),
      `${id}: ${outcomes}`,
    )
    t.ok(outcomes.filter((o) => o === 'applied').length <= 1, `${id}: at most one callback applied`)
  }
  await assertRaceOutcome(t, live, ids, 4)
  for (const id of ids) {
    const events = await taskEvents(live, id)
    // PoYo says finished to all four: one applies, the other three are duplicates.
    t.same(steps(events), ['queued→not_started', 'not_started→finished'])
    t.equal(ofType(events, 'ignored_update').length, 3, `${id}: three duplicates`)
    t.ok(
      ofType(events, 'ignored_update').every(
        (e) => (e.payload as { verdict: string }).verdict === 'duplicate',
      ),
    )
  }
})

t.test(
  'finished callbacks racing a refresh that says running: finished wins, nothing goes back',
  async (t) => {
    // Callbacks are trusted as sent; PoYo's status endpoint still says running, so the refresh
    // reports an older state than the callbacks.
    const live = await startLiveApp(t, {
      ...POOL,
      WORKERS_ENABLED: 'false',
      CALLBACK_CONFIRM: 'false',
      SIMULATOR_RUN_MS: '600000',
    })
    const { ids, providerIds } = await submittedTasks(live)
    await waitFor(() => ids.every((id) => simTask(live, providerIds.get(id)!).status === 'running'), {
      what: 'PoYo to start every task',
    })

    const results = await race(live, ids, providerIds)
    const paths = new Map<string, number>()
    for (const { id, refresh, callbacks } of results) {
      t.equal(refresh.status, 200, `${id}: refresh answered`)
      t.ok(['running', 'finished'].includes(refresh.body.status))
      t.same(
        callbacks.map((c) => c.status),
        [200, 200, 200],
      )
      t.equal(callbacks.filter((c) => c.body.outcome === 'applied').length, 1, `${id}: one callback applied`)
      const events = await taskEvents(live, id)
      const path = steps(events).join(', ')
      paths.set(path, (paths.get(path) ?? 0) + 1)
    }
    await assertRaceOutcome(t, live, ids, 4)
    for (const id of ids) {
      const task = await getTask(live, id)
      t.same(
        task.files,
        poyoData(providerIds.get(id)!).files.map((f) => ({ url: f.file_url, type: f.file_type })),
      )
      const events = await taskEvents(live, id)
      const late = ofType(events, 'ignored_update').filter(
        (e) => (e.payload as { reported: string }).reported === 'running',
      )
      for (const event of late) t.match(event.payload, { verdict: 'stale', current: 'finished' })
    }
    t.comment(`orders seen: ${[...paths].map(([path, n]) => `${n}× ${path}`).join(' | ')}`)
  },
)
