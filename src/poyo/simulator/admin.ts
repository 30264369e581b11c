import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { SimContext } from './context.js'
import { FaultsPatchSchema, FaultsSchema } from './faults.js'
import { type CallbackAttempt, snapshot } from './store.js'

export interface SimTaskView {
  task_id: string
  model: string
  status: string
  progress: number
  outcome: 'finished' | 'failed'
  callback_url: string | null
  created_time: string
  credits: number
}

/** What `GET /_sim/tasks` (and `app.simulator.overview()`) shows. */
export interface SimOverview {
  tasks: SimTaskView[]
  /** Submit requests per model, including those answered with an injected fault. */
  submits: { total: number; by_model: Record<string, number> }
  /** Tasks created per model (a hung submit creates one too). */
  created: { total: number; by_model: Record<string, number> }
  callbacks: CallbackAttempt[]
  dropped_callbacks: string[]
}

function counts(map: Map<string, number>): { total: number; by_model: Record<string, number> } {
  const byModel = Object.fromEntries(map)
  return { total: Object.values(byModel).reduce((a, b) => a + b, 0), by_model: byModel }
}

export function overview(ctx: SimContext): SimOverview {
  const nowMs = ctx.now()
  return {
    tasks: [...ctx.store.tasks.values()].map((task) => {
      const data = snapshot(task, nowMs, ctx.fileBaseUrl)
      return {
        task_id: task.id,
        model: task.model,
        status: data.status,
        progress: data.progress,
        outcome: task.outcome,
        callback_url: task.callbackUrl,
        created_time: data.created_time,
        credits: task.credits,
      }
    }),
    submits: counts(ctx.store.submitsSeen),
    created: counts(ctx.store.tasksCreated),
    callbacks: ctx.store.callbacks.map((attempt) => ({ ...attempt })),
    dropped_callbacks: [...ctx.store.droppedCallbacks],
  }
}

/** Control endpoints under /_sim (no auth: the simulator is a local test tool). */
export function registerAdminRoutes(fastify: FastifyInstance, ctx: SimContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get('/_sim/faults', { schema: { response: { 200: FaultsSchema } } }, async () => ctx.faults.get())

  // A merge: only the switches in the body change.
  app.put(
    '/_sim/faults',
    { schema: { body: FaultsPatchSchema, response: { 200: FaultsSchema } } },
    async (request) => ctx.faults.set(request.body),
  )

  app.post('/_sim/reset', async () => {
    ctx.reset()
    return { ok: true }
  })

  app.get('/_sim/tasks', async () => overview(ctx))
}
