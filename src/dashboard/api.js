// The service's public API, with the admin key the user pasted. The event stream is read
// with fetch, not EventSource, so the key travels in a header rather than in the URL.

const keyStorage = 'poyo.dashboard.apiKey'

export function savedKey() {
  return localStorage.getItem(keyStorage) ?? ''
}

export function saveKey(key) {
  if (key) localStorage.setItem(keyStorage, key)
  else localStorage.removeItem(keyStorage)
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`)
    this.status = status
    this.problem = problem
  }
}

export async function api(path) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${savedKey()}` } })
  const body = await response.json().catch(() => null)
  if (!response.ok) throw new ApiError(response.status, body)
  return body
}

/** ?a=1&status=x&status=y from an object whose values may be arrays; empty values left out. */
export function query(params) {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params))
    for (const item of Array.isArray(value) ? value : [value])
      if (item !== undefined && item !== null && item !== '') search.append(name, String(item))
  const text = search.toString()
  return text ? `?${text}` : ''
}

function parseBlock(block) {
  const message = { id: undefined, event: 'message', data: undefined }
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') message.id = value
    else if (field === 'event') message.event = value
    else if (field === 'data') message.data = message.data === undefined ? value : `${message.data}\n${value}`
  }
  return message
}

/**
 * Follows /v1/stream, reconnecting with backoff and resuming with Last-Event-ID so no
 * change is missed. Calls onChange({task, event}) and onState('live' | 'connecting' | 'offline').
 * Returns a function that stops it.
 */
export function followChanges({ onChange, onState }) {
  let lastEventId = null
  let stopped = false
  let controller = null
  let delay = 500

  async function connect() {
    while (!stopped) {
      onState('connecting')
      controller = new AbortController()
      try {
        const headers = { authorization: `Bearer ${savedKey()}`, accept: 'text/event-stream' }
        if (lastEventId !== null) headers['last-event-id'] = lastEventId
        const response = await fetch('/v1/stream', { headers, signal: controller.signal })
        if (!response.ok || !response.body) throw new ApiError(response.status, null)
        onState('live')
        delay = 500
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let boundary = buffer.indexOf('\n\n')
          while (boundary !== -1) {
            const message = parseBlock(buffer.slice(0, boundary))
            buffer = buffer.slice(boundary + 2)
            boundary = buffer.indexOf('\n\n')
            if (message.id !== undefined) lastEventId = message.id
            if (message.event === 'task' && message.data) onChange(JSON.parse(message.data))
          }
        }
      } catch (error) {
        if (stopped) return
        if (error instanceof ApiError && error.status === 401) {
          onState('offline')
          return
        }
      }
      if (stopped) return
      onState('offline')
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, 15_000)
    }
  }

  connect()
  return () => {
    stopped = true
    controller?.abort()
  }
}
