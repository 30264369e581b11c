import type { Config } from '../config.js'

const minute = 60_000

/** How long a submitted task of a model family may run before we stop waiting for PoYo. */
export function runDeadlineMs(
  config: Pick<Config, 'TASK_DEADLINE_MINUTES' | 'TASK_DEADLINE_OVERRIDES'>,
  family: string,
): number {
  for (const pair of config.TASK_DEADLINE_OVERRIDES.split(',')) {
    const [name, minutes] = pair.split('=')
    if (name === family && minutes) return Number(minutes) * minute
  }
  return config.TASK_DEADLINE_MINUTES * minute
}

/** How long submission is retried (e.g. through a PoYo outage) before the task fails. */
export function submitDeadlineMs(config: Pick<Config, 'SUBMIT_DEADLINE_MINUTES'>): number {
  return config.SUBMIT_DEADLINE_MINUTES * minute
}
