import type { Clock } from '../clock.js'
import { type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import type { ServiceLogger } from '../logger.js'
import { nextAttemptDelayMs } from './schedule.js'
import { signWebhook } from './signing.js'
import type { WebhookSender } from './sender.js'

export interface DeliveryDeps {
  prisma: PrismaClient
  clock: Clock
  logger: ServiceLogger
  /** The process's one sender (see createWebhookSender), its kept-alive connections shared. */
  sender: WebhookSender
}

/** Signing secrets of the task's API key: the current one, and the previous one while its grace lasts. */
function secretsFor(
  apiKey: {
    webhookSecret: string
    previousWebhookSecret: string | null
    previousWebhookSecretExpiresAt: Date | null
  } | null,
  now: Date,
): string[] {
  if (!apiKey) return []
  const previous =
    apiKey.previousWebhookSecret &&
    apiKey.previousWebhookSecretExpiresAt &&
    apiKey.previousWebhookSecretExpiresAt > now
      ? [apiKey.previousWebhookSecret]
      : []
  return [apiKey.webhookSecret, ...previous]
}

/**
 * One attempt of one delivery: sign, POST, log the attempt, and decide what comes next.
 * 2xx delivers; 410 stops every delivery of the task; anything else retries on the
 * schedule (honouring Retry-After) until it runs out.
 */
export async function attemptDelivery(deps: DeliveryDeps, deliveryId: string): Promise<void> {
  const delivery = await deps.prisma.webhookDelivery.findUnique({
    where: { id: deliveryId },
    include: { task: { include: { apiKey: true } } },
  })
  if (delivery?.status !== 'pending') return
  const started = deps.clock.now()
  const timestamp = Math.floor(started.getTime() / 1000)
  const body = JSON.stringify({
    type: `task.${delivery.event}`,
    timestamp: started.toISOString(),
    data: delivery.payload,
  })
  const secrets = secretsFor(delivery.task.apiKey, started)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'poyo-task-service-webhooks',
    'webhook-id': delivery.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secrets, delivery.id, timestamp, body),
  }
  const startedMs = performance.now()
  const result = secrets.length
    ? await deps.sender.post(delivery.url, headers, body)
    : { httpStatus: null, error: 'the task has no API key to sign with', responseBody: null }
  const durationMs = Math.round(performance.now() - startedMs)
  const number = delivery.attemptCount + 1
  const ok = result.httpStatus !== null && result.httpStatus >= 200 && result.httpStatus < 300
  const gone = result.httpStatus === 410
  const delay = ok || gone ? null : nextAttemptDelayMs(number, result.retryAfterMs)
  const now = deps.clock.now()

  await deps.prisma.$transaction(async (tx) => {
    await tx.webhookAttempt.create({
      data: {
        deliveryId,
        number,
        startedAt: started,
        durationMs,
        httpStatus: result.httpStatus,
        error: result.error,
        responseBody: result.responseBody,
      },
    })
    await tx.webhookDelivery.update({
      where: { id: deliveryId },
      data: {
        attemptCount: number,
        status: ok ? 'delivered' : gone ? 'stopped' : delay === null ? 'failed' : 'pending',
        deliveredAt: ok ? now : null,
        nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
      },
    })
    // 410 Gone: the receiver wants nothing more about this task.
    if (gone) {
      await tx.webhookDelivery.updateMany({
        where: { taskId: delivery.taskId, status: 'pending' },
        data: { status: 'stopped', nextAttemptAt: null },
      })
    }
  })
  deps.logger.info(
    {
      deliveryId,
      taskId: delivery.taskId,
      attempt: number,
      httpStatus: result.httpStatus,
      durationMs,
      error: result.error,
    },
    ok ? 'webhook delivered' : 'webhook attempt failed',
  )
}

/**
 * Takes due deliveries with a lease, so concurrent sweeps never send one twice at once. The
 * status is a literal so that the partial index webhook_deliveries_due_manual (pending ones
 * only) answers it: every delivery ever made stays in the table, and the sweep runs each second.
 */
export const claimDueDeliveriesSql = `
  UPDATE webhook_deliveries SET next_attempt_at = $2::timestamptz
  WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1::timestamptz
    ORDER BY next_attempt_at
    LIMIT $3::int
    FOR UPDATE SKIP LOCKED
  )
  RETURNING id`
prepareStatement(claimDueDeliveriesSql)

/** Claims due deliveries with a lease of `leaseMs`; returns their ids. */
export async function claimDueDeliveries(
  prisma: PrismaClient,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<string[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs)
  const rows = await queryRows<{ id: string }>(prisma, claimDueDeliveriesSql, [now, leaseUntil, limit])
  return rows.map((row) => row.id)
}
