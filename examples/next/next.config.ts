import type { NextConfig } from 'next'

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // the embedded dev provider (oidc-provider) runs as it is, not bundled
  serverExternalPackages: ['@codeflow/dev-provider', 'oidc-provider'],
  // the proxy's redirects stay absolute, on baseUrl's origin: Next makes a redirect to its own
  // host relative, which keeps a browser on another name for it (localhost for 127.0.0.1), where
  // the login's cookies do not reach the callback (skipMiddlewareUrlNormalize on Next 15)
  skipProxyUrlNormalize: true,
}

export default nextConfig
