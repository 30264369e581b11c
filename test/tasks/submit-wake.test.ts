// A split deployment: an instance that only serves the API (WORKERS_ENABLED=false) and one
// that submits. The submitting instance looks for new tasks only every
// SUBMIT_FETCH_INTERVAL_MS when idle, set here far beyond the test's time limits: a task is
// submitted in time only if the API instance's NOTIFY wakes it.
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'

const HAILUO = { model: 'hailuo-2.3', input: { prompt: 'A lighthouse in a storm' } }

async function splitDeployment(t: Test) {
  const worker = await buildTestApp(t, { SUBMIT_FETCH_INTERVAL_MS: '600000' })
  const api = await buildTestApp(t, { WORKERS_ENABLED: 'false' }, { databaseUrl: worker.databaseUrl })
  t.ok(await worker.app.listenHub.whenListening(5000), 'the submitting instance listens')
  return { worker, api }
}

async function createOn(instance: TestApp, adminKey: string): Promise<string> {
  const response = await instance.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { authorization: `Bearer ${adminKey}` },
    payload: HAILUO,
  })
  if (response.statusCode !== 202) throw new Error(`POST /v1/tasks: ${response.statusCode} ${response.body}`)
  return response.json().id
}

async function statusOf(instance: TestApp, adminKey: string, id: string): Promise<string> {
  const response = await instance.app.inject({
    url: `/v1/tasks/${id}`,
    headers: { authorization: `Bearer ${adminKey}` },
  })
  return response.json().status
}

t.test(
  'a task stored by an API-only instance is submitted at once by the instance with workers',
  async (t) => {
    const { worker, api } = await splitDeployment(t)
    const id = await createOn(api, worker.adminKey)
    await waitFor(async () => (await statusOf(worker, worker.adminKey, id)) !== 'queued', {
      timeoutMs: 20_000,
      what: 'the task to leave queued',
    })
    t.equal(
      worker.runtime.simulator?.simulator.overview().submits.total,
      1,
      'the submitting instance sent it to PoYo',
    )
    t.equal(
      api.runtime.simulator?.simulator.overview().submits.total,
      0,
      'the API-only instance sent nothing',
    )
  },
)

t.test('tasks stored while a wake is on its way are all submitted too', async (t) => {
  const { worker, api } = await splitDeployment(t)
  // More than the worker's 8 slots, all at once: the wakes coalesce, and none is lost.
  const ids = await Promise.all(Array.from({ length: 20 }, () => createOn(api, worker.adminKey)))
  await waitFor(
    async () => {
      for (const id of ids) if ((await statusOf(worker, worker.adminKey, id)) === 'queued') return false
      return true
    },
    { timeoutMs: 30_000, what: 'every task to leave queued' },
  )
  t.equal(worker.runtime.simulator?.simulator.overview().submits.total, 20, 'each sent once')
})
