import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyError, FastifyInstance } from 'fastify'
import { formatCreatedTime, okEnvelope, SubmitBodySchema } from '../wire.js'
import { type SimContext, sendPoyoError } from './context.js'
import { countIn, newTaskId, type SimTask, snapshot } from './store.js'

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** PoYo's own endpoints: submit and status, with its auth and error envelopes. */
export function registerPoyoRoutes(fastify: FastifyInstance, ctx: SimContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { store, faults, lifecycle } = ctx

  app.addHook('onRequest', async (request, reply) => {
    if (ctx.apiKey === undefined || !request.url.startsWith('/api/')) return
    if (request.headers.authorization !== `Bearer ${ctx.apiKey}`) {
      return sendPoyoError(ctx, reply, { status: 401 })
    }
  })

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const clientError = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500
    const extra = err.validation?.[0]?.params?.['additionalProperty']
    const message = err.validation
      ? `${err.validationContext ?? 'request'}${err.message.replace(/^\w+/, '')}${extra ? ` ('${extra}')` : ''}`
      : err.message
    return sendPoyoError(ctx, reply, {
      status: clientError ? 400 : 500,
      type: clientError ? 'validation_error' : 'internal_error',
      message: clientError ? message : 'Internal server error',
    })
  })

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not Found' }))

  app.post('/api/generate/submit', { schema: { body: SubmitBodySchema } }, async (request, reply) => {
    const { model, input, callback_url: callbackUrl } = request.body
    countIn(store.submitsSeen, model)
    await lifecycle.delay(faults.get().slowMs)
    const failure = faults.takeSubmitFailure()
    if (failure?.kind === 'error') return sendPoyoError(ctx, reply, failure)

    const verdict = ctx.validateInput(model, input)
    if (!verdict.ok) return sendPoyoError(ctx, reply, { status: 400, message: verdict.message })
    if (callbackUrl !== undefined && !isHttpUrl(callbackUrl)) {
      return sendPoyoError(ctx, reply, { status: 400, message: 'callback_url must be an http(s) URL' })
    }

    const nowMs = ctx.now()
    const fails = faults.shouldFail(model, ctx.random)
    const task: SimTask = {
      id: newTaskId(store, nowMs, ctx.random),
      model,
      input,
      callbackUrl: callbackUrl ?? null,
      createdAtMs: nowMs,
      startDelayMs: ctx.startDelayMs,
      runMs: ctx.runMs,
      outcome: fails ? 'failed' : 'finished',
      errorMessage: fails ? faults.get().failMessage : null,
      credits: verdict.estimatedCredits ?? ctx.defaultCredits,
    }
    store.tasks.set(task.id, task)
    countIn(store.tasksCreated, model)
    ctx.scheduleCallback(task)

    if (failure?.kind === 'hang') {
      // The task exists (and would be billed) but the caller never hears of it.
      reply.hijack()
      lifecycle.hold(request.raw.socket)
      return reply
    }
    const data = { task_id: task.id, status: 'not_started', created_time: formatCreatedTime(nowMs) }
    if (faults.get().malformedSuccess) {
      const { task_id: _omitted, ...rest } = data
      return okEnvelope(rest)
    }
    return okEnvelope(data)
  })

  app.get(
    '/api/generate/status/:id',
    { schema: { params: Type.Object({ id: Type.String() }) } },
    async (request, reply) => {
      await lifecycle.delay(faults.get().slowMs)
      const failure = faults.takeStatusFailure()
      if (failure?.kind === 'error') return sendPoyoError(ctx, reply, failure)
      const task = store.tasks.get(request.params.id)
      if (task === undefined) {
        if (faults.get().notFoundEnvelope === 'error') {
          return sendPoyoError(ctx, reply, { status: 404, message: 'Task not found' })
        }
        return reply.code(404).send({ detail: 'Task not found' })
      }
      const data = snapshot(task, ctx.now(), ctx.fileBaseUrl)
      if (faults.get().malformedSuccess) {
        const { task_id: _omitted, ...rest } = data
        return okEnvelope(rest)
      }
      return okEnvelope(data)
    },
  )
}
