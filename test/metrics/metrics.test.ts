/**
 * GET /metrics in Prometheus' text format: request latency by route, callbacks by outcome,
 * PoYo calls by endpoint and outcome with latency, status transitions, queue depth. The
 * counters live for the process, so each check compares before and after.
 */
import t from 'tap'
import { createTask, postCallback, poyoData, startLiveApp, submitNow } from '../helpers/live-service.js'

type Samples = Map<string, number>

async function scrape(live: {
  app: {
    inject: (o: object) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>
  }
}): Promise<Samples> {
  const response = await live.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: undefined },
  })
  if (response.statusCode !== 200) throw new Error(`/metrics answered ${response.statusCode}`)
  const samples: Samples = new Map()
  for (const line of response.body.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

const value = (samples: Samples, series: string) => samples.get(series) ?? 0

t.test('metrics count requests, callbacks, PoYo calls, transitions and queue depth', async (t) => {
  const live = await startLiveApp(t, { WORKERS_ENABLED: 'false', CALLBACK_CONFIRM: 'false' })
  const before = await scrape(live)

  const taskId = await createTask(live)
  const providerId = await submitNow(live, taskId)
  const applied = await postCallback(live, taskId, poyoData(providerId))
  t.equal(applied.status, 200)
  const duplicate = await postCallback(live, taskId, poyoData(providerId))
  t.equal(duplicate.body.outcome, 'duplicate')
  const forged = await postCallback(live, taskId, poyoData(providerId), { token: 'wrong' })
  t.equal(forged.status, 401)
  await live.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}` })

  const after = await scrape(live)
  const delta = (series: string) => value(after, series) - value(before, series)
  t.equal(delta('poyo_callbacks_total{outcome="applied"}'), 1, 'one applied callback')
  t.equal(delta('poyo_callbacks_total{outcome="duplicate"}'), 1, 'one duplicate')
  t.equal(delta('poyo_callbacks_total{outcome="rejected"}'), 1, 'one rejected (bad token)')
  t.equal(delta('poyo_calls_total{endpoint="submit",outcome="ok"}'), 1, 'one submit to PoYo')
  t.equal(delta('poyo_calls_total{endpoint="status",outcome="ok"}'), 0, 'no status call: confirmation is off')
  t.ok(
    delta('poyo_call_duration_seconds_count{endpoint="submit",outcome="ok"}') === 1,
    'PoYo latency observed',
  )
  t.equal(delta('task_transitions_total{from="queued",to="not_started"}'), 1)
  t.equal(delta('task_transitions_total{from="not_started",to="finished"}'), 1)
  t.equal(
    delta('http_request_duration_seconds_count{method="GET",route="/v1/tasks/:id",status_code="200"}'),
    1,
    'request latency by route template, not by URL',
  )
  t.ok(
    delta(
      'http_request_duration_seconds_count{method="POST",route="/v1/callbacks/poyo/:id",status_code="200"}',
    ) >= 2,
  )
  t.ok(after.has('job_queue_depth{queue="task-submit"}'), 'queue depth is reported per queue')
})

t.test('every response is counted once: by route, HEAD apart, refused and unmatched ones too', async (t) => {
  const live = await startLiveApp(t, { WORKERS_ENABLED: 'false' })
  const before = await scrape(live)
  const taskId = await createTask(live)
  await live.app.inject({ method: 'HEAD', url: `/v1/tasks/${taskId}` })
  await live.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}`, headers: { authorization: undefined } })
  await live.app.inject({ method: 'GET', url: '/no-such-page' })
  await live.app.inject({ method: 'GET', url: '/no-such-page' })
  const after = await scrape(live)
  const delta = (series: string) => value(after, series) - value(before, series)
  const count = (method: string, route: string, status: number) =>
    delta(`http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`)
  t.equal(count('HEAD', '/v1/tasks/:id', 200), 1, 'a HEAD request, under its route')
  t.equal(count('GET', '/v1/tasks/:id', 200), 0, 'the HEAD request is not also a GET')
  t.equal(count('GET', '/v1/tasks/:id', 401), 1, 'a request refused for want of a key, under its route')
  t.equal(count('GET', 'unmatched', 404), 2, 'URLs no route matches, under one label')
  t.equal(count('POST', '/v1/tasks', 202), 1, 'the task created')
})

t.test('queue depth shows waiting submit jobs', async (t) => {
  const live = await startLiveApp(t, { WORKERS_ENABLED: 'false' })
  await createTask(live)
  await createTask(live)
  const samples = await scrape(live)
  t.equal(value(samples, 'job_queue_depth{queue="task-submit"}'), 2, 'two tasks wait for submission')
})
