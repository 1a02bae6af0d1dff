/** The app's time, from its `clock` option: what every lifetime and expiry is measured by. */

/** Now by `clock`, in epoch seconds. */
export function epoch(settings: { readonly clock: () => number }): number {
  return Math.floor(settings.clock() / 1000)
}
