import { type PrismaClient, queryRows } from '../db/client.js'
import type { ServiceLogger } from '../logger.js'

/**
 * New tasks stored by an instance without workers (`WORKERS_ENABLED=false`) are announced
 * here, so that the instances that submit take them at once rather than at their next look.
 */
export const submitWakeChannel = 'task_submits'

/**
 * Wakes the submit workers of every instance that LISTENs (see the listen-hub plugin). One
 * NOTIFY is on its way at a time, and tasks stored meanwhile share the next one. A lost
 * NOTIFY costs only a delay: an idle worker looks every SUBMIT_FETCH_INTERVAL_MS anyway.
 */
export function createSubmitWakeNotifier(prisma: PrismaClient, logger: ServiceLogger): () => void {
  let sending = false
  let again = false
  const send = () => {
    sending = true
    again = false
    queryRows(prisma, `SELECT pg_notify('${submitWakeChannel}', '')`, [])
      .catch((error: unknown) => logger.warn({ err: error }, 'could not wake the submit workers'))
      .finally(() => {
        sending = false
        if (again) send()
      })
  }
  return () => {
    if (sending) again = true
    else send()
  }
}
