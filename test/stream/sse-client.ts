import { request } from 'node:http'
import { waitFor } from '../helpers/wait.js'

/** One block of an event stream: an event, an id alone, or comments. */
export interface SseRecord {
  id?: string
  event?: string
  data?: string
  comments: string[]
}

export interface SseStream {
  status: number
  headers: Record<string, string | string[] | undefined>
  records: SseRecord[]
  /** Records with data, parsed: the changes received. */
  changes(): { id: string; task: { id: string; status: string }; event: Record<string, unknown> }[]
  ended: Promise<void>
  isEnded(): boolean
  /** Waits until `count` changes have arrived (fails after `timeoutMs`). */
  waitForChanges(count: number, timeoutMs?: number): Promise<void>
  close(): void
}

function parseBlock(block: string): SseRecord {
  const record: SseRecord = { comments: [] }
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) record.comments.push(line.slice(1).trim())
    else {
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id' || field === 'event') record[field] = value
      if (field === 'data') record.data = record.data === undefined ? value : `${record.data}\n${value}`
    }
  }
  return record
}

/** A plain HTTP client for text/event-stream, keeping every record it reads. */
export function openStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const records: SseRecord[] = []
      let buffer = ''
      let ended = false
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let boundary = buffer.indexOf('\n\n')
        while (boundary !== -1) {
          records.push(parseBlock(buffer.slice(0, boundary)))
          buffer = buffer.slice(boundary + 2)
          boundary = buffer.indexOf('\n\n')
        }
      })
      const endedPromise = new Promise<void>((done) => {
        const finish = () => {
          ended = true
          done()
        }
        res.on('end', finish)
        res.on('close', finish)
        res.on('error', finish)
      })
      const changes = () =>
        records
          .filter((record) => record.data !== undefined)
          .map((record) => ({ id: record.id as string, ...JSON.parse(record.data as string) }))
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        records,
        changes,
        ended: endedPromise,
        isEnded: () => ended,
        waitForChanges: async (count, timeoutMs = 5000) => {
          await waitFor(() => changes().length >= count, {
            timeoutMs,
            what: `${count} changes on the stream`,
          })
        },
        close: () => req.destroy(),
      })
    })
    req.on('error', reject)
    req.end()
  })
}
