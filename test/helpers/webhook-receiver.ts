import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

/** One request a receiver got: raw body (as signed), headers, when. */
export interface ReceivedWebhook {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  at: number
  /** The sender's end of the TCP connection: the same for messages on one kept-alive connection. */
  remotePort: number | undefined
}

/**
 * How a receiver answers its `index`-th request (0-based). Return nothing after answering;
 * to hang, answer nothing; to drop the connection, `response.socket?.destroy()`.
 */
export type Responder = (received: ReceivedWebhook, response: ServerResponse, index: number) => void

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook` */
  url: string
  port: number
  received: ReceivedWebhook[]
}

export const answer =
  (status: number, headers: Record<string, string> = {}, body = ''): Responder =>
  (_received, response) => {
    response.writeHead(status, headers).end(body)
  }

/** A webhook receiver on 127.0.0.1 (port 0), closed (with any hung connections) when `t` ends. */
export async function startReceiver(t: Test, respond: Responder = answer(200)): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const entry: ReceivedWebhook = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        remotePort: request.socket.remotePort,
      }
      const index = received.length
      received.push(entry)
      respond(entry, response, index)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${port}/hook`, port, received }
}

/** The three Standard Webhooks headers of a received message, for `Webhook.verify`. */
export interface SignatureHeaders extends Record<string, string> {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

export function signatureHeaders(received: ReceivedWebhook): SignatureHeaders {
  const header = (name: string) => {
    const value = received.headers[name]
    return Array.isArray(value) ? (value[0] ?? '') : (value ?? '')
  }
  return {
    'webhook-id': header('webhook-id'),
    'webhook-timestamp': header('webhook-timestamp'),
    'webhook-signature': header('webhook-signature'),
  }
}
