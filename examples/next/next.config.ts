import type { NextConfig } from 'next'

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // the embedded dev provider (oidc-provider) runs as it is, not bundled
  serverExternalPackages: ['@codeflow/dev-provider', 'oidc-provider'],
}

export default nextConfig
