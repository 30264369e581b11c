/**
 * Runs the PoYo simulator alone, e.g. to point a local service at it:
 *   SIM_PORT=4010 SIM_API_KEY=dev SIM_WEBHOOK_SECRET=whsec SIM_RUN_MS=8000 npm run sim
 * Faults: curl -X PUT localhost:4010/_sim/faults -H 'content-type: application/json' -d '{"submitStatus429":true}'
 */
import { buildSimulator } from '../src/poyo/simulator/index.js'

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return value
}

const port = intFromEnv('SIM_PORT', 4010)
const host = process.env['SIM_HOST'] || '127.0.0.1'
const apiKey = process.env['SIM_API_KEY'] || undefined
const webhookSecret = process.env['SIM_WEBHOOK_SECRET'] || undefined
const runMs = intFromEnv('SIM_RUN_MS', 8000)
const seedRaw = process.env['SIM_SEED']
const retryDelays = process.env['SIM_CALLBACK_RETRY_DELAYS_MS']

const sim = buildSimulator({
  runMs,
  logger: { level: process.env['LOG_LEVEL'] || 'info' },
  ...(apiKey === undefined ? {} : { apiKey }),
  ...(webhookSecret === undefined ? {} : { webhookSecret }),
  ...(process.env['SIM_START_DELAY_MS'] ? { startDelayMs: intFromEnv('SIM_START_DELAY_MS', 0) } : {}),
  ...(seedRaw ? { seed: intFromEnv('SIM_SEED', 0) } : {}),
  ...(retryDelays ? { callbackRetryDelaysMs: retryDelays.split(',').map((d) => Number(d.trim())) } : {}),
})

let closing = false
async function shutdown(signal: string): Promise<void> {
  if (closing) return
  closing = true
  sim.log.info({ signal }, 'PoYo simulator: closing')
  await sim.close()
  process.exit(0)
}
process.once('SIGINT', () => void shutdown('SIGINT'))
process.once('SIGTERM', () => void shutdown('SIGTERM'))

const address = await sim.listen({ port, host })
sim.log.info(
  {
    address,
    runMs,
    auth: apiKey !== undefined,
    signedCallbacks: webhookSecret !== undefined,
    seed: sim.simulator.seed,
  },
  `PoYo simulator listening on ${address} (set POYO_BASE_URL=${address})`,
)
