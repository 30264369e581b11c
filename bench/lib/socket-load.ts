/**
 * A closed-loop HTTP/1.1 load generator on raw sockets: each connection writes one request,
 * reads its answer (Content-Length framed, as Fastify sends JSON), and writes the next. It
 * does no more than that, so the CPU it takes from the 2 cores it shares with the service is
 * a small part of what it measures (autocannon rebuilds every request through its builder
 * and parser: about 70–130 µs per callback on these machines, see the README).
 */
import { connect, type Socket } from 'node:net'
import { type LoadOptions, type LoadResult, percentiles, type Step } from './latency.js'

/** One request as bytes: the request line, Host, the step's headers and a JSON body. */
export function encodeRequest(step: Step, host: string): Buffer {
  let head = `${step.method ?? 'GET'} ${step.path} HTTP/1.1\r\nhost: ${host}\r\n`
  if (step.body !== undefined)
    head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(step.body)}\r\n`
  for (const [name, value] of Object.entries(step.headers ?? {})) head += `${name}: ${value}\r\n`
  return Buffer.from(`${head}\r\n${step.body ?? ''}`)
}

const headerEnd = Buffer.from('\r\n\r\n')
const contentLength = /\r\ncontent-length:[ \t]*(\d+)/i
const closes = /\r\nconnection:[ \t]*close/i

/** The framing of one response once its head is in: its status and where it ends. */
export interface ResponseHead {
  status: number
  /** Bytes from the start of the response to the end of its body. */
  length: number
  /** The server will close the connection after it (Connection: close). */
  closes: boolean
}

/** Reads a response head from `bytes`; null while incomplete. Throws when it is not Content-Length framed. */
export function readResponseHead(bytes: Buffer): ResponseHead | null {
  const end = bytes.indexOf(headerEnd)
  if (end < 0) return null
  const head = bytes.toString('latin1', 0, end)
  const status = Number(head.slice(9, 12))
  const length = contentLength.exec(head)
  if (!head.startsWith('HTTP/1.1 ') || !Number.isInteger(status) || !length)
    throw new Error(`unexpected response head: ${JSON.stringify(head.slice(0, 200))}`)
  return { status, length: end + 4 + Number(length[1]), closes: closes.test(head) }
}

/** Drives `options.connections` sockets in a closed loop for `options.seconds` (or `options.amount` requests). */
export function fireSockets(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.base)
  const port = Number(url.port)
  const stepOf = typeof options.step === 'function' ? options.step : () => options.step as Step
  const latencies: number[] = []
  let responses = 0
  let non2xx = 0
  let errors = 0
  let sent = 0
  const started = process.hrtime.bigint()
  const stopAt = started + BigInt(Math.round(options.seconds * 1e9))
  // With `amount`, the run may go on past `seconds` (as autocannon does), bounded at +30 s.
  const hardStopAt = stopAt + (options.amount ? 30_000_000_000n : 0n)
  const more = () => {
    const now = process.hrtime.bigint()
    return options.amount ? sent < options.amount && now < hardStopAt : now < stopAt
  }

  return new Promise((resolve) => {
    let open = options.connections
    const finish = () => {
      if (--open > 0) return
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      resolve({
        ...percentiles(latencies),
        requests: responses,
        rps: latencies.length / seconds,
        non2xx,
        errors,
        connections: options.connections,
        seconds,
      })
    }

    const runConnection = () => {
      let socket: Socket
      let pending: Buffer | null = null
      let head: ResponseHead | null = null
      let sentAt = 0n
      let inFlight = false
      let ended = false

      const end = () => {
        if (ended) return
        ended = true
        socket.end()
        finish()
      }
      const sendNext = () => {
        if (!more()) return end()
        sent++
        inFlight = true
        head = null
        sentAt = process.hrtime.bigint()
        socket.write(encodeRequest(stepOf(), url.host))
      }
      const onData = (chunk: Buffer) => {
        let bytes = pending ? Buffer.concat([pending, chunk]) : chunk
        try {
          head ??= readResponseHead(bytes)
        } catch {
          socket.destroy() // counted as an error on close
          return
        }
        if (!head || bytes.length < head.length) {
          pending = bytes
          return
        }
        const done = head
        bytes = bytes.subarray(done.length)
        pending = bytes.length > 0 ? bytes : null
        responses++
        inFlight = false
        if (done.status >= 200 && done.status < 300) {
          const now = process.hrtime.bigint()
          latencies.push(Number(now - sentAt) / 1e6)
          options.onResponse?.(Number(now - started) / 1e6, Number(now - sentAt) / 1e6)
        } else non2xx++
        if (done.closes) socket.end()
        else sendNext()
      }
      const open = () => {
        pending = null
        head = null
        socket = connect({ host: url.hostname, port, noDelay: true })
        socket.setTimeout(30_000)
        socket.on('connect', sendNext)
        socket.on('data', onData)
        socket.on('timeout', () => socket.destroy(new Error('timed out')))
        socket.on('error', () => {}) // counted on close
        socket.on('close', () => {
          if (ended) return
          if (inFlight) errors++
          inFlight = false
          // A closed or failed connection is opened again while the run lasts.
          if (more()) setTimeout(open, 10)
          else end()
        })
      }
      open()
    }

    for (let i = 0; i < options.connections; i++) runConnection()
  })
}
