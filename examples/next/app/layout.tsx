import { UserProvider } from '@codeflow/next/client'
import type { Metadata } from 'next'
import type { ReactNode } from 'react'
import { codeflow } from '../lib/codeflow'
import './globals.css'

export const metadata: Metadata = { title: 'codeflow example' }

export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await codeflow.getSession()
  return (
    <html lang="en">
      <body>
        <nav>
          <a href="/">Home</a>
          <a href="/profile">Profile</a>
        </nav>
        <UserProvider user={session?.user ?? null}>{children}</UserProvider>
      </body>
    </html>
  )
}
