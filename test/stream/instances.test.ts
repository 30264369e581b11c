/**
 * Two instances of the service on one database: a task submitted through one (whose
 * workers and PoYo simulator run it to the end) shows up on the streams of both.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'
import { createKey, freePort } from '../queries/support.js'
import { openStream } from './sse-client.js'

const port = await freePort()
const one = await buildTestApp(t, {
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  SIMULATOR_RUN_MS: '300',
  POLL_SWEEP_INTERVAL_MS: '200',
})
await one.app.listen({ host: '127.0.0.1', port })
const two = await buildTestApp(t, { WORKERS_ENABLED: 'false' }, { databaseUrl: one.databaseUrl })
const twoBase = await two.app.listen({ host: '127.0.0.1', port: 0 })
const admin = await createKey(one.runtime.deps.prisma, 'admin')

t.test('a change made through one instance reaches the streams of both', async (t) => {
  const streams = [
    await openStream(`http://127.0.0.1:${port}/v1/stream`, admin.headers),
    await openStream(`${twoBase}/v1/stream`, admin.headers),
  ]
  t.teardown(() => {
    for (const sse of streams) sse.close()
  })
  await waitFor(() => streams.every((sse) => sse.records.length > 1), { what: 'both streams open' })

  const created = await one.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: admin.headers,
    payload: { model: 'hailuo-2.3', input: { prompt: 'Two instances, one truth' } },
  })
  t.equal(created.statusCode, 202, created.body)
  const taskId = created.json().id as string

  for (const [i, sse] of streams.entries()) {
    await waitFor(
      () => sse.changes().some((change) => change.task.id === taskId && change.task.status === 'finished'),
      { timeoutMs: 15_000, what: `instance ${i + 1} to see the task finish` },
    )
    const statuses = sse
      .changes()
      .filter((change) => change.task.id === taskId)
      .map((change) => change.event.to_status)
    t.same(statuses.at(-1), 'finished', `instance ${i + 1} saw the task finish`)
    t.equal(statuses[0], 'not_started', `instance ${i + 1} saw it from its submission on`)
  }
  t.same(
    streams[0]?.changes().map((change) => change.id),
    streams[1]?.changes().map((change) => change.id),
    'both saw the same changes, in the same order',
  )
})
