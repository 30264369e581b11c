import { attemptDelivery, claimDueDeliveries, type DeliveryDeps } from './deliver.js'

const batchSize = 20
/** Longer than an attempt can take, so a lease never runs out mid-attempt. */
const leaseMs = 120_000

/** Sends the webhook messages that are due, a batch at a time, in parallel. */
export async function runWebhookSweep(deps: DeliveryDeps): Promise<number> {
  const due = await claimDueDeliveries(deps.prisma, deps.clock.now(), batchSize, leaseMs)
  await Promise.all(
    due.map((id) =>
      attemptDelivery(deps, id).catch((error) =>
        deps.logger.error({ err: error, deliveryId: id }, 'webhook attempt crashed'),
      ),
    ),
  )
  return due.length
}
