/**
 * Redis Cluster keys: a cluster hashes a key's `{hash tag}` (or the whole key without one) to one
 * of 16,384 slots, each served by one shard, and refuses a command whose keys span slots. The
 * cluster stores tag every key of a user with that user, so that one request's commands (the
 * session's read and its revocation check) go to one shard, and users spread over all of them.
 */

/** Whether `client` is node-redis's cluster client (`createCluster`). */
export function isClusterClient(client: object): boolean {
  return typeof (client as { getSlotMaster?: unknown }).getSlotMaster === 'function'
}

let lastIssuer = ''
let lastEncoded = ''

/**
 * `encodeURIComponent(iss)` for the keys of issuer `iss`. An app has one issuer or a few, and a
 * request asks for up to four keys of one: the last issuer's encoding is kept (encoding a URL
 * costs more than the rest of a key).
 */
export function encodeIssuer(iss: string): string {
  if (iss !== lastIssuer) {
    lastEncoded = encodeURIComponent(iss)
    lastIssuer = iss
  }
  return lastEncoded
}

/**
 * The hash tag of user `sub` of issuer `iss`. encodeURIComponent escapes "{", "}" and ":", so
 * that no user's tag ends early or spells another's.
 */
export function userTag(iss: string, sub: string): string {
  return `{${encodeIssuer(iss)}:${encodeURIComponent(sub)}}`
}

/** Whether `prefix` has a hash tag of its own (`{…}` with something inside): one slot for all. */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{')
  if (open === -1) return false
  const close = prefix.indexOf('}', open + 1)
  return close > open + 1
}

/** The `cluster` option of a store: given, or detected from the client. */
export function clusterOption(value: unknown, client: object): boolean {
  if (value === undefined) return isClusterClient(client)
  if (typeof value !== 'boolean') throw new TypeError('"cluster" must be a boolean')
  return value
}
