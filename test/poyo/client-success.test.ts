import t from 'tap'
import type { PoyoCallReport, PoyoTaskStatus } from '../../src/poyo/client.js'
import { parseCreatedTime } from '../../src/poyo/wire.js'
import { client, INPUT, MODEL, startSim, waitFor } from './helpers.js'

t.test('submit: task id, status and created_time (UTC) from the envelope', async (t) => {
  // A fixed clock far from the host's zone offset makes a local-time misparse visible.
  const fixed = Date.UTC(2025, 10, 12, 10, 30, 0)
  const { sim, url } = await startSim(t, { now: () => fixed })
  const calls: PoyoCallReport[] = []
  const poyo = client(url, { onCall: (c) => calls.push(c) })

  const result = await poyo.submit({ model: MODEL, input: INPUT })
  t.match(result.taskId, /^task-unified-1762943400-[a-z0-9]{8}$/)
  t.equal(result.status, 'not_started')
  t.equal(result.createdTime?.toISOString(), '2025-11-12T10:30:00.000Z')
  t.same(sim.simulator.overview().submits.by_model, { [MODEL]: 1 })
  t.equal(calls.length, 1)
  t.match(calls[0], { endpoint: 'submit', outcome: 'ok', httpStatus: 200 })
  t.type(calls[0]?.durationMs, 'number')
})

t.test('parseCreatedTime: no zone means UTC; explicit zones are kept; junk is null', async (t) => {
  t.equal(parseCreatedTime('2025-11-12T10:30:00')?.toISOString(), '2025-11-12T10:30:00.000Z')
  t.equal(parseCreatedTime('2025-11-12 10:30:00')?.toISOString(), '2025-11-12T10:30:00.000Z')
  t.equal(parseCreatedTime('2025-11-12T10:30:00.250')?.toISOString(), '2025-11-12T10:30:00.250Z')
  t.equal(parseCreatedTime('2025-11-12T10:30:00+02:00')?.toISOString(), '2025-11-12T08:30:00.000Z')
  t.equal(parseCreatedTime('2025-11-12T10:30:00Z')?.toISOString(), '2025-11-12T10:30:00.000Z')
  t.equal(parseCreatedTime(1762943400)?.toISOString(), '2025-11-12T10:30:00.000Z')
  t.equal(parseCreatedTime('yesterday'), null)
  t.equal(parseCreatedTime('2025-13-45T99:00:00'), null)
  t.equal(parseCreatedTime(null), null)
})

t.test('status: not_started → running with rising progress → finished with files and credits', async (t) => {
  // A not_started phase long enough that the first status call lands in it on a busy CI machine.
  const { url } = await startSim(t, { runMs: 1200, startDelayMs: 500 })
  const poyo = client(url)
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT })

  const seen: PoyoTaskStatus[] = []
  const first = await poyo.status(taskId)
  seen.push(first)
  t.equal(first.status, 'not_started')
  t.equal(first.progress, 0)
  t.same(first.files, [])
  t.equal(first.creditsAmount, 0, 'nothing is charged before the task finishes')

  const final = await waitFor(
    async () => {
      const s = await poyo.status(taskId)
      seen.push(s)
      return s.status === 'finished' ? s : undefined
    },
    { intervalMs: 20, what: 'finished' },
  )
  const running = seen.filter((s) => s.status === 'running')
  t.ok(running.length >= 2, 'saw the task running more than once')
  t.ok(
    running.every((s) => s.progress >= 1 && s.progress <= 99),
    'running progress stays within 1..99',
  )
  const progresses = seen.map((s) => s.progress)
  t.same(
    progresses,
    [...progresses].sort((a, b) => a - b),
    'progress never falls',
  )
  t.ok((running.at(-1)?.progress ?? 0) > (running[0]?.progress ?? 0), 'progress rose while running')

  t.equal(final.taskId, taskId)
  t.equal(final.progress, 100)
  t.equal(final.errorMessage, null)
  t.equal(final.creditsAmount, 35, 'hailuo-2.3 at 6 s / 768p costs 35 credits (catalog estimate)')
  const video = final.files.find((f) => f.type === 'video')
  t.match(video?.url, /^https:\/\/.+\.mp4$/)
  t.ok(
    final.files.some((f) => f.type === 'image'),
    'files carry a thumbnail too: pick by type',
  )
  t.type(final.createdTime, Date)
})

t.test('failed tasks end with an error_message and no credits', async (t) => {
  const { sim, url } = await startSim(t, { runMs: 100, startDelayMs: 10 })
  sim.simulator.faults.set({ failTasks: [MODEL], failMessage: 'Content moderation rejected the prompt' })
  const poyo = client(url)
  const { taskId } = await poyo.submit({ model: MODEL, input: INPUT })
  const final = await waitFor(
    async () => {
      const s = await poyo.status(taskId)
      return s.status === 'failed' || s.status === 'finished' ? s : undefined
    },
    { what: 'terminal status' },
  )
  t.equal(final.status, 'failed')
  t.equal(final.errorMessage, 'Content moderation rejected the prompt')
  t.equal(final.creditsAmount, 0)
  t.same(final.files, [])
})

t.test('failTasks as a probability is deterministic for a seed', async (t) => {
  const outcomes = async (seed: number) => {
    const { sim, url } = await startSim(t, { seed, faults: { failTasks: 0.5 } })
    const poyo = client(url)
    for (let i = 0; i < 12; i++) await poyo.submit({ model: MODEL, input: INPUT })
    return sim.simulator.overview().tasks.map((task) => task.outcome)
  }
  const a = await outcomes(7)
  const b = await outcomes(7)
  t.same(a, b, 'same seed, same outcomes')
  t.ok(a.includes('failed') && a.includes('finished'), 'a 0.5 probability yields both outcomes')
})
