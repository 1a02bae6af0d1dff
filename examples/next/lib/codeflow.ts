import { createCodeflow } from '@codeflow/next'
import { nextExampleSettings } from './settings'

/**
 * The app's codeflow: configured from the environment at the first request (so that `next build`
 * needs none of it). The proxy guards /profile, a page: anonymous requests are sent to log in
 * whatever their Accept header; the page checks the session again itself.
 */
export const codeflow = createCodeflow(() => nextExampleSettings().auth, {
  protect: [{ path: '/profile', unauthenticated: 'redirect' }],
})
