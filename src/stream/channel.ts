/**
 * Status changes are announced here by the statement that makes them (transitionsSql in
 * src/tasks/transitions.ts), one notification per statement of at most 200 changes:
 * `{"event_ids": ["…", …]}`, in id order.
 */
export const taskChangesChannel = 'task_changes'

/** The event ids of one notification, or undefined when it is not one transitionsSql sends. */
export function parseChangeNotification(payload: string): bigint[] | undefined {
  try {
    const { event_ids: ids } = JSON.parse(payload) as { event_ids?: unknown }
    if (!Array.isArray(ids) || ids.length === 0) return undefined
    return ids.map((id) => BigInt(id as string))
  } catch {
    return undefined
  }
}
