/**
 * The client authentication chosen when `clientAuth` is not set, by what the app has (a secret, a
 * key, a certificate) and what the provider's `token_endpoint_auth_methods_supported` lists.
 */
import { describe, expect, it } from 'vitest'
import type { ClientCertificate } from '../src/protocol/client-certificate.js'
import type { ClientKey } from '../src/protocol/client-key.js'
import { pickClientAuth } from '../src/protocol/provider.js'

const key = { alg: 'ES256', kid: undefined } as unknown as ClientKey
const issued = { selfSigned: false } as ClientCertificate
const selfSigned = { selfSigned: true } as ClientCertificate

describe('pickClientAuth', () => {
  it('uses the secret by the first secret method the provider lists, basic when it lists nothing', () => {
    expect(pickClientAuth(undefined, 's', undefined, undefined)).toBe('client_secret_basic')
    expect(pickClientAuth(['client_secret_post'], 's', undefined, undefined)).toBe(
      'client_secret_post',
    )
    expect(pickClientAuth(['client_secret_jwt', 'private_key_jwt'], 's', key, undefined)).toBe(
      'client_secret_jwt',
    )
  })

  it('uses the key without a secret, and beside a secret when the provider takes no secret', () => {
    expect(pickClientAuth(undefined, undefined, key, undefined)).toBe('private_key_jwt')
    expect(pickClientAuth(['private_key_jwt'], 's', key, undefined)).toBe('private_key_jwt')
    // a provider that does not offer private_key_jwt: a public client
    expect(pickClientAuth(['none'], undefined, key, undefined)).toBe('none')
  })

  it('uses the TLS method that fits the certificate, else the other one offered', () => {
    expect(pickClientAuth(undefined, undefined, undefined, issued)).toBe('tls_client_auth')
    expect(pickClientAuth(undefined, undefined, undefined, selfSigned)).toBe(
      'self_signed_tls_client_auth',
    )
    expect(pickClientAuth(['self_signed_tls_client_auth'], undefined, undefined, issued)).toBe(
      'self_signed_tls_client_auth',
    )
    // beside a key the provider does not take for private_key_jwt: the certificate
    expect(pickClientAuth(['tls_client_auth'], undefined, key, issued)).toBe('tls_client_auth')
    // beside a secret the provider refuses: the certificate
    expect(pickClientAuth(['tls_client_auth'], 's', undefined, issued)).toBe('tls_client_auth')
    // beside a secret the provider takes: the secret (the certificate binds the tokens)
    expect(pickClientAuth(['client_secret_basic', 'tls_client_auth'], 's', undefined, issued)).toBe(
      'client_secret_basic',
    )
  })
})
