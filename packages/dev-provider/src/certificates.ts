/**
 * X.509 certificates for mutual TLS on a developer's machine and in tests (RFC 8705): a CA, the
 * server certificates it issues (the dev provider on https, a resource server), client
 * certificates it issues (`tls_client_auth`), and self-signed client certificates
 * (`self_signed_tls_client_auth`). ECDSA P-256 keys, signed with SHA-256; written in DER by hand,
 * because Node can read certificates but not make them. Never for production.
 */
import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto'
import { isIP } from 'node:net'

/** A certificate and its private key, both PEM. */
export interface DevCertificate {
  /** the certificate, PEM */
  readonly cert: string
  /** its private key, PEM (PKCS #8) */
  readonly key: string
  /** its subject, as an RFC 4514 string (`CN=app,O=codeflow`), for `tls_client_auth_subject_dn` */
  readonly subject: string
  /** its SHA-256 thumbprint, base64url: the `x5t#S256` a bound token's `cnf` holds (RFC 8705 §3.1) */
  readonly thumbprint: string
  /** its public key as a JWK with the certificate in `x5c`, for `self_signed_tls_client_auth` */
  readonly jwk: Record<string, unknown>
}

/** What a certificate is for. */
export interface CertificateOptions {
  /**
   * The subject, RFC 4514 style, most specific first: `CN=app,O=codeflow`. Attribute types CN,
   * O, OU, L, ST, C (two letters); values without `,`, `+`, `"`, `\`, `<`, `>`, `;`, `=` or `#`.
   */
  subject: string
  /** host names and IP addresses (subjectAltName); a server certificate needs its host's */
  hosts?: string[]
  /** `server` (serverAuth) or `client` (clientAuth, the default) */
  usage?: 'server' | 'client'
  /** the start of its validity; default an hour ago */
  validFrom?: Date
  /** the end of its validity; default a year after `validFrom` */
  validTo?: Date
}

/** A certificate authority that issues certificates, for mutual TLS in development and tests. */
export interface DevCertificateAuthority extends DevCertificate {
  /** A certificate for `options`, signed by this CA. */
  issue(options: CertificateOptions): DevCertificate
}

const ATTRIBUTE_TYPES: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
}

function lengthOf(n: number): number[] {
  if (n < 0x80) return [n]
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return [0x80 | bytes.length, ...bytes]
}

function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag, ...lengthOf(body.length)]), body])
}

const sequence = (...parts: Uint8Array[]) => tlv(0x30, ...parts)
const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts)
const octets = (bytes: Uint8Array) => tlv(0x04, bytes)
const bits = (bytes: Uint8Array, unused = 0) => tlv(0x03, Buffer.from([unused]), bytes)
const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 + n, inner)
const TRUE = tlv(0x01, Buffer.from([0xff]))

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const out = [40 * first + second]
  for (const n of rest) {
    const chunk = [n & 0x7f]
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift((v & 0x7f) | 0x80)
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

/** A positive INTEGER from big-endian bytes. */
function integer(bytes: Uint8Array): Buffer {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const trimmed = bytes.subarray(start)
  return tlv(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`))
}

/** The RDNs of an RFC 4514 string, in certificate order (the string's last first). */
function parseName(dn: string): Array<[string, string]> {
  const rdns = dn.split(',').map((part) => {
    const eq = part.indexOf('=')
    const type = part.slice(0, eq).trim().toUpperCase()
    const value = part.slice(eq + 1).trim()
    if (eq <= 0 || !(type in ATTRIBUTE_TYPES) || !value || /[,+"\\<>;=#]/.test(value)) {
      throw new TypeError(
        `certificate subject ${JSON.stringify(dn)}: "${part.trim()}" is not TYPE=value with TYPE one of ${Object.keys(ATTRIBUTE_TYPES).join(', ')}`,
      )
    }
    return [type, value] as [string, string]
  })
  return rdns.reverse()
}

function name(rdns: Array<[string, string]>): Buffer {
  return sequence(
    ...rdns.map(([type, value]) =>
      set(
        sequence(
          oid(ATTRIBUTE_TYPES[type] as string),
          // RFC 5280: a country is a PrintableString; the others UTF8String
          tlv(type === 'C' ? 0x13 : 0x0c, Buffer.from(value, 'utf8')),
        ),
      ),
    ),
  )
}

function rfc4514(rdns: Array<[string, string]>): string {
  return [...rdns]
    .reverse()
    .map(([type, value]) => `${type}=${value}`)
    .join(',')
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return sequence(oid(id), ...(critical ? [TRUE] : []), octets(value))
}

function generalNames(hosts: readonly string[]): Buffer {
  return sequence(
    ...hosts.map((host) => {
      const family = isIP(host.replace(/^\[(.*)\]$/, '$1'))
      if (family === 4) return tlv(0x87, Buffer.from(host.split('.').map(Number)))
      if (family === 6) throw new TypeError(`certificate hosts: IPv6 (${host}) is not supported`)
      return tlv(0x82, Buffer.from(host, 'ascii'))
    }),
  )
}

/** The key identifier of RFC 5280 §4.2.1.2 (1): SHA-1 of the public key's bits. */
function keyIdentifier(spki: Buffer): Buffer {
  // SubjectPublicKeyInfo of P-256 ends with its BIT STRING (tag, length, 0 unused bits, then the
  // 65-byte uncompressed point): the point is the key's bits
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest()
}

interface Signer {
  readonly rdns: Array<[string, string]>
  readonly key: KeyObject
  readonly keyId: Buffer
}

const ECDSA_SHA256 = sequence(oid('1.2.840.10045.4.3.2'))

function build(
  options: CertificateOptions & { ca?: boolean },
  issuer: Signer | undefined,
): { certificate: DevCertificate; signer: Signer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  const rdns = parseName(options.subject)
  const keyId = keyIdentifier(spki)
  const signer = issuer ?? { rdns, key: privateKey, keyId }
  const validFrom = options.validFrom ?? new Date(Date.now() - 60 * 60 * 1000)
  const validTo = options.validTo ?? new Date(validFrom.getTime() + 365 * 24 * 60 * 60 * 1000)
  const extensions = options.ca
    ? [
        extension('2.5.29.19', sequence(TRUE), true),
        // digitalSignature, keyCertSign, cRLSign
        extension('2.5.29.15', bits(Buffer.from([0x86]), 1), true),
        extension('2.5.29.14', octets(keyId)),
      ]
    : [
        extension('2.5.29.19', sequence(), true),
        // digitalSignature
        extension('2.5.29.15', bits(Buffer.from([0x80]), 7), true),
        extension(
          '2.5.29.37',
          sequence(oid(options.usage === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2')),
        ),
        extension('2.5.29.14', octets(keyId)),
        extension('2.5.29.35', sequence(tlv(0x80, signer.keyId))),
        ...(options.hosts?.length ? [extension('2.5.29.17', generalNames(options.hosts))] : []),
      ]
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(
      Buffer.concat([Buffer.from([0x40 | ((randomBytes(1)[0] as number) >> 2)]), randomBytes(15)]),
    ),
    ECDSA_SHA256,
    name(signer.rdns),
    sequence(time(validFrom), time(validTo)),
    name(rdns),
    spki,
    explicit(3, sequence(...extensions)),
  )
  const der = sequence(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer.key)))
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`
  // a check that the DER is what Node (OpenSSL) reads
  new X509Certificate(cert)
  return {
    certificate: {
      cert,
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      subject: rfc4514(rdns),
      thumbprint: createHash('sha256').update(der).digest('base64url'),
      jwk: { ...publicKey.export({ format: 'jwk' }), x5c: [der.toString('base64')] },
    },
    signer: { rdns, key: privateKey, keyId },
  }
}

/**
 * A new certificate authority (ECDSA P-256), by default `CN=codeflow dev CA`, valid for ten
 * years; `issue` signs server and client certificates with it.
 */
export function createCertificateAuthority(
  options: Partial<Pick<CertificateOptions, 'subject' | 'validFrom' | 'validTo'>> = {},
): DevCertificateAuthority {
  const validFrom = options.validFrom ?? new Date(Date.now() - 60 * 60 * 1000)
  const { certificate, signer } = build(
    {
      subject: options.subject ?? 'CN=codeflow dev CA',
      validFrom,
      validTo: options.validTo ?? new Date(validFrom.getTime() + 10 * 365 * 24 * 60 * 60 * 1000),
      ca: true,
    },
    undefined,
  )
  return { ...certificate, issue: (options) => build(options, signer).certificate }
}

/** A self-signed client certificate, for `self_signed_tls_client_auth` (RFC 8705 §2.2). */
export function createSelfSignedCertificate(options: CertificateOptions): DevCertificate {
  return build(options, undefined).certificate
}
