import { codeflow } from '../../lib/codeflow'
import { stepUpRoute } from '../../lib/routes'
import { nextExampleSettings } from '../../lib/settings'

export const GET = stepUpRoute(codeflow, () => nextExampleSettings())
