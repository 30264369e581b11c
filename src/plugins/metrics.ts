import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { Queues } from '../db/job-queue.js'
import { httpRequestDuration, registry, setQueueDepthReader } from '../metrics.js'

/** Request latency by route for every response, and `GET /metrics` in Prometheus' text format. */
async function metricsPlugin(app: FastifyInstance) {
  setQueueDepthReader(async () => {
    const depths: Record<string, number> = {}
    for (const name of Object.values(Queues)) depths[name] = await app.queue.getQueueSize(name)
    return depths
  })
  app.addHook('onClose', async () => setQueueDepthReader(null))

  // One child per method, route and status, looked up by a joined key: prom-client's
  // observe(labels, …) checks and sorts the labels at every call.
  const durations = new Map<string, { observe(seconds: number): void }>()
  const observe = (route: string, request: FastifyRequest, reply: FastifyReply) => {
    const key = `${request.method} ${reply.statusCode} ${route}`
    let observer = durations.get(key)
    if (!observer) {
      observer = httpRequestDuration.labels({
        method: request.method,
        route,
        status_code: String(reply.statusCode),
      })
      durations.set(key, observer)
    }
    observer.observe(reply.elapsedTime / 1000)
  }
  // Each route observes its own responses, its path known when it is added (reading it per
  // request through request.routeOptions builds an object of a dozen fields each time).
  app.addHook('onRoute', (route) => {
    const path = route.url
    const hook: onResponseHookHandler = (request, reply, done) => {
      observe(path, request, reply)
      done()
    }
    route.onResponse = [...(route.onResponse === undefined ? [] : [route.onResponse].flat()), hook]
  })
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) observe('unmatched', request, reply)
    done()
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

export default fp(metricsPlugin, { name: 'metrics' })
