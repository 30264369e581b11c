import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const lowestPort = 10_000

/**
 * Where the OS starts handing out ports for outgoing connections (and for listen(0)). A port
 * from below it stays free between freePort() and the caller's listen: a port the OS picked
 * could meanwhile go to any connection a parallel test opens (a CI run failed on that once).
 */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(low) && low > lowestPort + 1000) return low
  } catch {
    // Not Linux: 32768 is below both Linux's default range and IANA's (49152 up).
  }
  return 32768
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A loopback port nobody listens on right now, outside the range the OS hands out itself. */
export async function freePort(): Promise<number> {
  const highest = ephemeralStart()
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = lowestPort + Math.floor(Math.random() * (highest - lowestPort))
    if (await canListen(port)) return port
  }
  throw new Error(`no free loopback port between ${lowestPort} and ${highest}`)
}
