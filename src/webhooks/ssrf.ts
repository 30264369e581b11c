import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

/**
 * Where webhooks may not go: loopback, private, link-local (cloud metadata lives at
 * 169.254.169.254 and fd00:ec2::254), shared, multicast, reserved and documentation ranges.
 */
const blocked = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [
  // IPv4-compatible (::a.b.c.d, deprecated) covers :: and ::1 too.
  ['::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  // 6to4 embeds an IPv4 address (possibly a private one) in the prefix.
  ['2002::', 16],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6')
}

/** True for an address a webhook must not reach. IPv4-mapped IPv6 is judged as the IPv4 it carries. */
export function isBlockedAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4')
  const family = isIP(address)
  if (family === 0) return true
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export interface UrlPolicy {
  /** Allow private and loopback targets (local development and tests). */
  allowPrivate: boolean
  /** Only https (production). */
  requireHttps: boolean
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string }

/** Checks a webhook URL's shape and scheme (no network). */
export function checkWebhookUrlShape(raw: string, policy: UrlPolicy): UrlVerdict {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, reason: 'must be an absolute URL' }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'must be an http(s) URL' }
  if (policy.requireHttps && url.protocol !== 'https:') return { ok: false, reason: 'must be an https URL' }
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' }
  return { ok: true, url }
}

/** Resolves a host and refuses it when any of its addresses is blocked (all must be safe). */
export async function resolveSafeAddresses(hostname: string, policy: UrlPolicy): Promise<string[]> {
  const host = hostname.replace(/^\[|\]$/g, '')
  const addresses = isIP(host)
    ? [host]
    : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address)
  if (addresses.length === 0) throw new Error(`${host} does not resolve`)
  if (!policy.allowPrivate) {
    const bad = addresses.find(isBlockedAddress)
    if (bad) throw new Error(`${host} resolves to ${bad}, a private, loopback or otherwise reserved address`)
  }
  return addresses
}

/** The full check made when a task is created: shape, scheme, and where the host resolves now. */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<UrlVerdict> {
  const shape = checkWebhookUrlShape(raw, policy)
  if (!shape.ok) return shape
  try {
    await resolveSafeAddresses(shape.url.hostname, policy)
    return shape
  } catch (error) {
    return { ok: false, reason: `is not allowed: ${(error as Error).message}` }
  }
}
