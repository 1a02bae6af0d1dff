/**
 * @codeflow/testing: signed-in tests of apps that use codeflow, on every framework. `mintSession`
 * makes a session from the app's own configuration without any provider; `signIn` signs in for
 * real through the dev provider without a browser. Both give the cookies as a `Cookie` header
 * (supertest, fetch), `Set-Cookie` values and Playwright cookies (`storageState`).
 */
export type { BrowserCookie, SignedIn, StorageState } from './cookies.js'
export { type MintedSession, type MintOptions, mintSession } from './mint.js'
export { type SignInOptions, signIn } from './sign-in.js'
