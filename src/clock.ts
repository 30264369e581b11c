/** The service's notion of now; tests substitute their own to move time. */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }
