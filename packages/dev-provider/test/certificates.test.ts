/**
 * The development certificates (certificates.ts) as OpenSSL, through Node, reads them, and the
 * dev provider's mutual-TLS options refused where they would trust too much or do nothing.
 */
import { X509Certificate } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  startDevProvider,
} from '../src/index.js'

describe('development certificates', () => {
  const ca = createCertificateAuthority({ subject: 'CN=test CA,O=codeflow,C=DE' })

  it('issues certificates that chain to the CA, with the subject, hosts and usage asked for', () => {
    const server = ca.issue({
      subject: 'CN=127.0.0.1',
      hosts: ['127.0.0.1', 'localhost'],
      usage: 'server',
    })
    const parsed = new X509Certificate(server.cert)
    expect(parsed.checkIssued(new X509Certificate(ca.cert))).toBe(true)
    expect(parsed.verify(new X509Certificate(ca.cert).publicKey)).toBe(true)
    expect(parsed.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost')
    expect(parsed.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(parsed.ca).toBe(false)
    expect(parsed.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1'])
    expect(new X509Certificate(ca.cert).ca).toBe(true)
    // the subject in RFC 4514 order, most specific first, as tls_client_auth_subject_dn has it
    expect(ca.subject).toBe('CN=test CA,O=codeflow,C=DE')
    expect(new X509Certificate(ca.cert).subject).toBe('C=DE\nO=codeflow\nCN=test CA')
  })

  it('makes self-signed, expired and client certificates, with their thumbprint and x5c', () => {
    const self = createSelfSignedCertificate({ subject: 'CN=self' })
    const parsed = new X509Certificate(self.cert)
    expect(parsed.issuer).toBe(parsed.subject)
    expect(parsed.verify(parsed.publicKey)).toBe(true)
    expect(parsed.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
    expect(self.jwk.x5c).toEqual([parsed.raw.toString('base64')])
    expect(self.thumbprint).toBe(
      Buffer.from(parsed.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
    )
    const expired = ca.issue({
      subject: 'CN=old',
      validFrom: new Date('2020-01-01T00:00:00Z'),
      validTo: new Date('2060-01-01T00:00:00Z'),
    })
    // GeneralizedTime from 2050 on
    expect(new Date(new X509Certificate(expired.cert).validTo).toISOString()).toBe(
      '2060-01-01T00:00:00.000Z',
    )
  })

  it('refuses subjects it would encode wrongly, and IPv6 hosts', () => {
    expect(() => ca.issue({ subject: 'CN=a,b' })).toThrow(/is not TYPE=value/)
    expect(() => ca.issue({ subject: 'CN=#hex' })).toThrow(/is not TYPE=value/)
    expect(() => ca.issue({ subject: 'EMAIL=a@b' })).toThrow(/is not TYPE=value/)
    expect(() => ca.issue({ subject: 'CN=v6', hosts: ['[::1]'] })).toThrow(/IPv6/)
  })
})

describe('the dev provider with mutual TLS clients', () => {
  it('refuses a TLS client without "tls", and tls_client_auth without "tls.clientCa"', async () => {
    const client = { clientId: 'tls', redirectUris: ['http://127.0.0.1:9/callback'] }
    await expect(
      startDevProvider({ clients: [{ ...client, tokenEndpointAuthMethod: 'tls_client_auth' }] }),
    ).rejects.toThrow('client "tls": mutual TLS needs the "tls" option')
    await expect(
      startDevProvider({ clients: [{ ...client, certificateBoundAccessTokens: true }] }),
    ).rejects.toThrow('mutual TLS needs the "tls" option')
    const server = createCertificateAuthority().issue({
      subject: 'CN=127.0.0.1',
      hosts: ['127.0.0.1'],
      usage: 'server',
    })
    await expect(
      startDevProvider({
        tls: { cert: server.cert, key: server.key },
        clients: [
          { ...client, tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSubjectDn: 'CN=a' },
        ],
      }),
    ).rejects.toThrow('tls_client_auth needs "tls.clientCa"')
  })
})
