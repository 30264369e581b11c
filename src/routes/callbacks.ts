import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { InvalidRequestError, ServiceUnavailableError, UnauthorizedError } from '../errors.js'
import { isUuid } from '../ids.js'
import { callbacksTotal } from '../metrics.js'
import { verifyPoyoCallback } from '../poyo/signature.js'
import { problemRef } from '../schemas/problem.js'
import { verifyCallbackToken } from '../tasks/callback-token.js'
import { parseCallbackBody, receiveCallback } from '../tasks/receive-callback.js'

const Received = Type.Object({
  received: Type.Boolean(),
  outcome: Type.String({
    description: 'applied, progress, duplicate, stale, mismatch, deferred or unknown_task',
  }),
})

/** PoYo's callbacks: authenticated by the per-task token in the URL (and PoYo's signature when configured). */
const callbackRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/callbacks/poyo/:id',
    {
      bodyLimit: 256 * 1024,
      // Limits are per API key and callbacks carry none (the URL token authenticates them).
      config: { rateLimit: false },
      schema: {
        tags: ['callbacks'],
        summary: "PoYo's task callback (token in the URL; no API key)",
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Unknown(),
        response: { 200: Received, 400: problemRef, 401: problemRef, 413: problemRef, 503: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params
      if (!verifyCallbackToken(app.callbackSecret, id, request.query.token)) {
        callbacksTotal.inc({ outcome: 'rejected' })
        throw new UnauthorizedError('The callback token is missing or wrong')
      }
      const callback = parseCallbackBody(request.body)
      if (typeof callback === 'string') {
        callbacksTotal.inc({ outcome: 'rejected' })
        throw new InvalidRequestError(`Malformed callback: ${callback}`)
      }

      const webhookSecret = app.config.POYO_WEBHOOK_SECRET
      if (webhookSecret) {
        const verdict = verifyPoyoCallback({
          secret: webhookSecret,
          taskId: callback.taskId,
          timestampHeader: request.headers['x-webhook-timestamp'],
          signatureHeader: request.headers['x-webhook-signature'],
          nowSeconds: Math.floor(app.clock.now().getTime() / 1000),
        })
        if (!verdict.ok) {
          callbacksTotal.inc({ outcome: 'rejected' })
          throw new UnauthorizedError(`The callback signature is not valid: ${verdict.reason}`)
        }
      }

      if (!isUuid(id)) {
        callbacksTotal.inc({ outcome: 'unknown_task' })
        return { received: true, outcome: 'unknown_task' }
      }
      try {
        const outcome = await receiveCallback(
          {
            prisma: app.prisma,
            poyo: app.poyo,
            clock: app.clock,
            logger: request.log,
            confirm: app.config.CALLBACK_CONFIRM,
          },
          id,
          callback,
          { body: request.body, signatureChecked: Boolean(webhookSecret) },
        )
        if (outcome === 'unknown_task')
          request.log.warn({ taskId: id }, 'callback for an unknown task ignored')
        callbacksTotal.inc({ outcome })
        return { received: true, outcome }
      } catch (error) {
        // Whatever went wrong, PoYo should try again: it retries only non-2xx answers.
        request.log.error({ err: error, taskId: id }, 'callback could not be stored')
        callbacksTotal.inc({ outcome: 'unavailable' })
        throw new ServiceUnavailableError('The callback could not be stored; retry later')
      }
    },
  )
}

export default callbackRoutes
