/**
 * New tasks stored by an instance without workers (`WORKERS_ENABLED=false`) are announced
 * on this channel by the statement that stores them (src/tasks/create-task.ts), so that the
 * instances that submit (they LISTEN, see the listen-hub plugin) take them at once rather
 * than at their next look. A lost NOTIFY costs only a delay: an idle worker looks every
 * SUBMIT_FETCH_INTERVAL_MS anyway.
 */
export const submitWakeChannel = 'task_submits'
