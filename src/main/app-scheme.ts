// The app:// origin the desktop window is served from (src/main/index.ts): which file a request
// names. Kept apart from Electron so the path rules are tested on their own.
import { existsSync, statSync } from 'node:fs'
import { extname, resolve, sep } from 'node:path'

export const APP_HOST = 'studio'
export const APP_ORIGIN = `app://${APP_HOST}`

/** The strict CSP every app:// response carries (the window and the hidden GPU window alike). */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2'
}

export function mimeType(file: string): string {
  return MIME[extname(file).toLowerCase()] ?? 'application/octet-stream'
}

/**
 * app://studio/<path> → the file under `rendererDir`, or null: another host, a path that does not
 * decode, anything that resolves outside the folder (../, encoded separators), or no such file.
 */
export function rendererFileFor(rendererDir: string, requestUrl: string): string | null {
  let url: URL
  try {
    url = new URL(requestUrl)
  } catch {
    return null
  }
  if (url.protocol !== 'app:' || url.host !== APP_HOST) return null
  let rel: string
  try {
    rel = decodeURIComponent(url.pathname)
  } catch {
    return null
  }
  if (rel.includes('\0')) return null
  const root = resolve(rendererDir)
  const file = resolve(root, '.' + (rel === '/' || rel === '' ? '/index.html' : rel))
  if (!file.startsWith(root + sep)) return null
  try {
    return existsSync(file) && statSync(file).isFile() ? file : null
  } catch {
    return null
  }
}
