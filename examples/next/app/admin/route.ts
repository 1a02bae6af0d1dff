import { codeflow } from '../../lib/codeflow'
import { adminRoute } from '../../lib/routes'
import { nextExampleSettings } from '../../lib/settings'

export const GET = adminRoute(codeflow, () => nextExampleSettings())
