import { codeflow } from '../../../lib/codeflow'
import { tokenRoute } from '../../../lib/routes'

export const GET = tokenRoute(codeflow)
