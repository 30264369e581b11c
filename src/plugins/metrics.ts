import type { FastifyInstance } from 'fastify'
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

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

export default fp(metricsPlugin, { name: 'metrics' })
