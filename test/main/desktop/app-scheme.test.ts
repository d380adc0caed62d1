// Which file an app:// request may read: only files inside the renderer folder, whatever the page
// (or anything that got script into it) asks for.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mimeType, rendererFileFor } from '../../../src/main/app-scheme'

let base: string
let renderer: string
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'app-scheme-'))
  renderer = join(base, 'renderer')
  mkdirSync(join(renderer, 'assets'), { recursive: true })
  writeFileSync(join(renderer, 'index.html'), '<!doctype html>')
  writeFileSync(join(renderer, 'assets', 'index-1.js'), '')
  // A sibling whose name starts like the renderer folder, and a secret beside it.
  mkdirSync(join(base, 'renderer-other'))
  writeFileSync(join(base, 'renderer-other', 'x.js'), '')
  writeFileSync(join(base, 'secret.txt'), 'secret')
})
afterAll(() => rmSync(base, { recursive: true, force: true }))

describe('rendererFileFor', () => {
  it('serves the page and its assets; / is index.html', () => {
    expect(rendererFileFor(renderer, 'app://studio/')).toBe(join(renderer, 'index.html'))
    expect(rendererFileFor(renderer, 'app://studio/index.html')).toBe(join(renderer, 'index.html'))
    expect(rendererFileFor(renderer, 'app://studio/assets/index-1.js?v=1#x')).toBe(join(renderer, 'assets', 'index-1.js'))
  })

  it.each([
    ['another host', 'app://evil/index.html'],
    ['another scheme', 'file:///etc/passwd'],
    ['dot segments', 'app://studio/../secret.txt'],
    ['encoded dot segments', 'app://studio/%2e%2e/secret.txt'],
    ['encoded slash', 'app://studio/..%2fsecret.txt'],
    ['encoded backslash', 'app://studio/..%5csecret.txt'],
    ['a sibling folder with the same prefix', 'app://studio/../renderer-other/x.js'],
    ['a NUL byte', 'app://studio/index.html%00.js'],
    ['a malformed escape', 'app://studio/%E0%A4%A'],
    ['a folder', 'app://studio/assets'],
    ['a missing file', 'app://studio/nope.js'],
    ['not a URL', 'studio/index.html']
  ])('refuses %s', (_what, url) => {
    expect(rendererFileFor(renderer, url)).toBeNull()
  })

  it('names the content type by extension, octet-stream otherwise', () => {
    expect(mimeType('a/index.html')).toBe('text/html; charset=utf-8')
    expect(mimeType('a/x.JS')).toBe('text/javascript; charset=utf-8')
    expect(mimeType('a/x.bin')).toBe('application/octet-stream')
  })
})
