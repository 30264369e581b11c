/**
 * Callback ingest with a live stream open: GET /v1/stream as the dashboard holds it (an
 * admin's, every change), in bursts in turn with bursts without one, so each pair meets the
 * same machine. Measures what watching costs the callbacks, and whether the stream keeps up.
 */
import { request } from 'node:http'
import { callbackUrl } from '../../src/tasks/callback-token.js'
import { type BenchDb, insertNotStartedTasks } from './db.js'
import { callbackBurst, finishedIn, inTurn, rotation } from './ingest.js'
import { median } from './load.js'
import { callbackSecret, type Stack } from './service.js'

export interface StreamIngestResult {
  pairs: {
    seconds: number
    /** Callbacks a second without a stream, and with one open. */
    without: number
    with: number
    ratio: number
    /**
     * Changes of the half with the stream: applied by its end (counted just after the
     * stream's count) and the stream's count then; applied and sent once it caught up.
     */
    appliedAtEnd: number
    deliveredInRun: number
    applied: number
    delivered: number
    /** Times the service ended the stream (a client 1 MB behind), which then resumed. */
    endedByService: number
  }[]
  /** The median of the pairs' ratios. */
  ofWithout: number
  /** Of the changes the halves with a stream applied, the share it had sent when each ended. */
  deliveredInRunShare: number
  /** The same once the stream had caught up (waiting at most `settleMs` after each half). */
  deliveredShare: number
  settleMs: number
}

const set = 'b0000006'
const halfSeconds = 2
const settleMs = 5_000

/**
 * GET /v1/stream read as a browser's EventSource reads it: when the service ends the stream
 * (it ends one whose client has 1 MB unread), it connects again after the `retry:` the
 * service sent, with `Last-Event-ID`, and the service replays what it missed. Counts the
 * distinct task changes received and the streams the service ended.
 */
function openStream(base: string, apiKey: string) {
  const seen = new Set<string>()
  let lastId: string | null = null
  let retryMs = 2_000
  let endedByService = 0
  let closed = false
  let current: AbortController | null = null

  const connect = () =>
    new Promise<void>((resolve, reject) => {
      const controller = new AbortController()
      current = controller
      let pending = ''
      const headers: Record<string, string> = {
        authorization: `Bearer ${apiKey}`,
        accept: 'text/event-stream',
      }
      if (lastId !== null) headers['last-event-id'] = lastId
      const req = request(new URL('/v1/stream', base), { headers, signal: controller.signal }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET /v1/stream answered ${res.statusCode}`))
        res.setEncoding('utf8')
        res.on('data', (text: string) => {
          const messages = (pending + text).split('\n\n')
          pending = messages.pop() ?? ''
          for (const message of messages) {
            const id = /^id: (\d+)$/m.exec(message)?.[1]
            if (id !== undefined) lastId = id
            const retry = /^retry: (\d+)$/m.exec(message)?.[1]
            if (retry !== undefined) retryMs = Number(retry)
            if (id !== undefined && message.includes('\nevent: task\n')) seen.add(id)
          }
          resolve()
        })
        res.on('end', () => {
          if (closed) return
          endedByService++
          setTimeout(() => void (closed ? undefined : connect().catch(() => {})), retryMs)
        })
        res.on('error', () => {})
      })
      req.on('error', (error) => (controller.signal.aborted ? undefined : reject(error)))
      req.end()
    })

  return connect().then(() => ({
    changes: () => seen.size,
    endedByService: () => endedByService,
    close: () => {
      closed = true
      current?.abort()
    },
  }))
}

export async function benchIngestWithStream(
  db: BenchDb,
  stack: Stack,
  admin: { id: string; secret: string },
  opts: { pairs: number },
): Promise<StreamIngestResult> {
  const tasks = 8_000 * halfSeconds * 2 * opts.pairs
  await insertNotStartedTasks(db.pool, set, tasks, admin.id)
  await db.pool.query('VACUUM (ANALYZE) tasks')
  const calls = rotation(set, tasks, (id) => callbackUrl('', callbackSecret, id))
  const burst = (onCounted?: () => void) =>
    callbackBurst(db, stack, calls, { set, count: tasks }, halfSeconds, onCounted)
  const watched = async () => {
    const stream = await openStream(stack.base, admin.secret)
    try {
      // The stream's count starts with the burst's: what the half before left in flight may
      // commit after the stream opened and before the burst counts what was finished.
      let seenBefore = 0
      const { rate, finishedBefore } = await burst(() => (seenBefore = stream.changes()))
      const sent = () => stream.changes() - seenBefore
      // The applied changes are counted after the stream's, each time: callbacks in flight
      // when the load stopped are applied after the burst's own count, and the stream may
      // already have them.
      const deliveredInRun = sent()
      const appliedAtEnd = (await finishedIn(db, set, tasks)) - finishedBefore
      const started = Date.now()
      while (sent() < appliedAtEnd && Date.now() - started < settleMs)
        await new Promise((resolve) => setTimeout(resolve, 50))
      const delivered = sent()
      const applied = (await finishedIn(db, set, tasks)) - finishedBefore
      return { rate, appliedAtEnd, applied, deliveredInRun, delivered, ended: stream.endedByService() }
    } finally {
      stream.close()
    }
  }

  const pairs: StreamIngestResult['pairs'] = []
  for (let pair = 0; pair < opts.pairs; pair++) {
    const [without, withStream] = await inTurn(pair, () => burst(), watched)
    pairs.push({
      seconds: halfSeconds,
      without: without.rate,
      with: withStream.rate,
      ratio: withStream.rate / without.rate,
      appliedAtEnd: withStream.appliedAtEnd,
      deliveredInRun: withStream.deliveredInRun,
      applied: withStream.applied,
      delivered: withStream.delivered,
      endedByService: withStream.ended,
    })
  }
  const total = (pick: (pair: StreamIngestResult['pairs'][number]) => number) =>
    pairs.reduce((sum, pair) => sum + pick(pair), 0)
  const share = (part: number, whole: number) => part / Math.max(1, whole)
  return {
    pairs,
    ofWithout: median(pairs.map((p) => p.ratio)),
    deliveredInRunShare: share(
      total((p) => p.deliveredInRun),
      total((p) => p.appliedAtEnd),
    ),
    deliveredShare: share(
      total((p) => p.delivered),
      total((p) => p.applied),
    ),
    settleMs,
  }
}
