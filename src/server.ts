import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { createLogger } from './logger.js'
import { startRuntime } from './runtime.js'

/** Process entry: config, runtime (database, workers), listen, and a graceful close on signals. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw error
  }
  const logger = createLogger(config)
  const runtime = await startRuntime(config, logger, {
    // Straight to the terminal, not the logs: secrets never reach log lines.
    onAdminKeyCreated: (secret) =>
      process.stderr.write(
        `\nNo API key existed, so an admin key was created. It is shown only this once:\n\n  ${secret}\n\n` +
          'Use it as "Authorization: Bearer <key>"; manage keys with `npm run keys`.\n\n',
      ),
  })
  const app = await buildApp(runtime.deps)

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight')
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    try {
      await app.close()
      await runtime.close()
      logger.info('shut down cleanly')
      process.exit(0)
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed')
      process.exit(1)
    }
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))

  try {
    await app.listen({ host: config.HOST, port: config.PORT })
  } catch (error) {
    logger.error({ err: error }, 'could not listen')
    await runtime.close()
    process.exit(1)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
