import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { NotFoundError } from '../errors.js'
import type { WebhookAttempt, WebhookDelivery } from '../generated/prisma/client.js'
import { problemRef } from '../schemas/problem.js'
import { TaskIdParams, TaskStatusSchema } from '../schemas/task.js'
import { visibleTasks } from '../tasks/caller.js'

const Attempt = Type.Object({
  number: Type.Integer(),
  started_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer(),
  http_status: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
})

const Delivery = Type.Object({
  id: Type.String({ description: 'Also the webhook-id header of every attempt' }),
  event: TaskStatusSchema,
  url: Type.String(),
  status: Type.Union(['pending', 'delivered', 'failed', 'stopped'].map((s) => Type.Literal(s))),
  attempt_count: Type.Integer(),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  attempts: Type.Array(Attempt),
})

function toDelivery(delivery: WebhookDelivery & { attempts: WebhookAttempt[] }) {
  return {
    id: delivery.id,
    event: delivery.event,
    url: delivery.url,
    status: delivery.status,
    attempt_count: delivery.attemptCount,
    next_attempt_at: delivery.nextAttemptAt?.toISOString() ?? null,
    delivered_at: delivery.deliveredAt?.toISOString() ?? null,
    created_at: delivery.createdAt.toISOString(),
    attempts: delivery.attempts.map((attempt) => ({
      number: attempt.number,
      started_at: attempt.startedAt.toISOString(),
      duration_ms: attempt.durationMs,
      http_status: attempt.httpStatus,
      error: attempt.error,
    })),
  }
}

/** A task's outbound webhook messages with every attempt, and redelivery on demand. */
const deliveryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/tasks/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The task's webhook deliveries and their attempts",
        params: TaskIdParams,
        response: { 200: Type.Object({ data: Type.Array(Delivery) }), 400: problemRef, 404: problemRef },
      },
    },
    async (request) => {
      const task = await app.prisma.task.findFirst({
        where: { id: request.params.id, ...visibleTasks(request.caller) },
      })
      if (!task) throw new NotFoundError(`Task ${request.params.id}`)
      const deliveries = await app.prisma.webhookDelivery.findMany({
        where: { taskId: task.id },
        include: { attempts: { orderBy: { number: 'asc' } } },
        orderBy: { createdAt: 'asc' },
      })
      return { data: deliveries.map(toDelivery) }
    },
  )

  app.post(
    '/v1/tasks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivery again now (its attempts continue to be logged)',
        params: Type.Object({ ...TaskIdParams.properties, deliveryId: Type.String({ format: 'uuid' }) }),
        response: { 202: Delivery, 400: problemRef, 404: problemRef },
      },
    },
    async (request, reply) => {
      const { id, deliveryId } = request.params
      const task = await app.prisma.task.findFirst({ where: { id, ...visibleTasks(request.caller) } })
      const delivery =
        task && (await app.prisma.webhookDelivery.findFirst({ where: { id: deliveryId, taskId: id } }))
      if (!delivery) throw new NotFoundError(`Delivery ${deliveryId} of task ${id}`)
      const updated = await app.prisma.webhookDelivery.update({
        where: { id: deliveryId },
        data: { status: 'pending', nextAttemptAt: app.clock.now() },
        include: { attempts: { orderBy: { number: 'asc' } } },
      })
      return reply.code(202).send(toDelivery(updated))
    },
  )
}

export default deliveryRoutes
