import { dbBatchSize } from '../metrics.js'

export interface CoalesceOptions<In, Out> {
  /** A name for metrics (`db_batch_size{kind}`). */
  kind: string
  /** Runs one batch: one result per item, in order. */
  execute(items: In[]): Promise<Out[]>
  /**
   * When a batch of several fails, run its items again one by one, so only the item that
   * fails alone is rejected (a statement fails as a whole). Without it every item is rejected.
   */
  isolateFailures?: boolean
  /** Items with the same key never share a batch nor run at once: a later one waits for the earlier. */
  key?(item: In): string
  maxBatch?: number
  /**
   * Batches sent and not yet answered, one by default. On a pool each holds a connection, so
   * they run side by side: two status changes at once (four backends on two cores, with the
   * state reads) cost more CPU per change and gave fewer callbacks a second in alternating
   * bench runs. On a pipelined lane they queue on one connection and run one after another.
   */
  maxInFlight?: number
  /**
   * A batch starts while another runs only once this many calls wait (1 by default); fewer
   * wait for a slot to free. On a pipelined lane (see queryRowsInLane) the next batch then
   * queues behind the running one with the calls of most of its run, not with the first few.
   */
  minBatchBehind?: number
}

export interface Coalescer<In, Out> {
  run(item: In): Promise<Out>
}

interface Pending<In, Out> {
  item: In
  resolve(out: Out): void
  reject(error: unknown): void
}

/**
 * Group commit for independent statements: calls that arrive while earlier batches are
 * running are sent together as one statement once a slot frees up. An idle service sends
 * each call at once (a batch of one, after the current I/O callbacks), so batching adds no
 * waiting; under load, one round trip and one commit serve many callers.
 */
export function coalesce<In, Out>(options: CoalesceOptions<In, Out>): Coalescer<In, Out> {
  const maxBatch = options.maxBatch ?? 100
  const maxInFlight = options.maxInFlight ?? 1
  const minBatchBehind = options.minBatchBehind ?? 1
  const pending: Pending<In, Out>[] = []
  let inFlight = 0
  let scheduled = false

  // Keys of the batches running now.
  const running = new Set<string>()

  function takeBatch(): Pending<In, Out>[] {
    if (!options.key) return pending.splice(0, maxBatch)
    const keys = new Set<string>()
    const batch: Pending<In, Out>[] = []
    const left: Pending<In, Out>[] = []
    for (const entry of pending) {
      const key = options.key(entry.item)
      if (batch.length < maxBatch && !keys.has(key) && !running.has(key)) {
        keys.add(key)
        batch.push(entry)
      } else left.push(entry)
    }
    pending.length = 0
    for (const entry of left) pending.push(entry)
    return batch
  }

  async function send(batch: Pending<In, Out>[]) {
    dbBatchSize.observe({ kind: options.kind }, batch.length)
    try {
      const results = await options.execute(batch.map((entry) => entry.item))
      batch.forEach((entry, index) => entry.resolve(results[index] as Out))
    } catch (error) {
      if (!options.isolateFailures || batch.length === 1) {
        for (const entry of batch) entry.reject(error)
        return
      }
      for (const entry of batch) {
        await options.execute([entry.item]).then(
          ([result]) => entry.resolve(result as Out),
          (alone: unknown) => entry.reject(alone),
        )
      }
    }
  }

  const enoughWaiting = () => pending.length >= (inFlight === 0 ? 1 : minBatchBehind)

  function pump() {
    scheduled = false
    while (inFlight < maxInFlight && enoughWaiting()) {
      const batch = takeBatch()
      // Everything left waits on a running batch of its own key: it is pumped when that ends.
      if (batch.length === 0) return
      const keys = options.key ? batch.map((entry) => options.key!(entry.item)) : []
      for (const key of keys) running.add(key)
      inFlight++
      void send(batch).finally(() => {
        for (const key of keys) running.delete(key)
        inFlight--
        schedule()
      })
    }
  }

  function schedule() {
    if (scheduled || inFlight >= maxInFlight || !enoughWaiting()) return
    scheduled = true
    // After the current I/O callbacks: requests parsed in the same turn share a batch.
    setImmediate(pump)
  }

  return {
    run(item) {
      return new Promise<Out>((resolve, reject) => {
        pending.push({ item, resolve, reject })
        schedule()
      })
    },
  }
}

/** One coalescer per database client (a batch must run on the client its callers gave). */
export function perClient<Client extends object, In, Out>(
  make: (client: Client) => Coalescer<In, Out>,
): (client: Client) => Coalescer<In, Out> {
  const coalescers = new WeakMap<Client, Coalescer<In, Out>>()
  return (client) => {
    let found = coalescers.get(client)
    if (!found) {
      found = make(client)
      coalescers.set(client, found)
    }
    return found
  }
}
