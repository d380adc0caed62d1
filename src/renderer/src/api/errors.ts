import { errorCodes, StudioError, type ErrorCode, type StudioErrorValue } from '../../../shared/contract'

/** Turns whatever a call threw into a StudioError, so views can show `code` and `message` alike. */
export function toStudioError(e: unknown): StudioError {
  if (e instanceof StudioError) return e
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const v = e as StudioErrorValue
    const code = (errorCodes as readonly string[]).includes(v.code) ? (v.code as ErrorCode) : 'internal'
    // Electron's IPC prefixes rejected messages with "Error invoking remote method ...: Error: ".
    return new StudioError(code, String(v.message).replace(/^Error invoking remote method '[^']*': (\w*Error: )?/, ''))
  }
  if (e instanceof Error) return new StudioError('internal', e.message)
  return new StudioError('internal', String(e))
}

/** One readable line for a person. */
export function errorMessage(e: unknown): string {
  return toStudioError(e).message
}
