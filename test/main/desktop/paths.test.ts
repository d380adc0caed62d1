// One default data folder for every host, chosen the same way by the desktop app, web mode and the
// CLI; big files in the local (not roaming) folder; configurable through the env and the settings file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultDataDir, platformDataDir, readSettings, settingsFile, writeSettings } from '../../../src/main/paths'

let home: string
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'paths-'))
})
afterEach(() => rmSync(home, { recursive: true, force: true }))

describe('data folder', () => {
  it('per OS: XDG data on Linux, Application Support on macOS, LOCAL app data on Windows', () => {
    expect(platformDataDir({ platform: 'linux', env: {}, home })).toBe(join(home, '.local', 'share', 'conv-studio'))
    expect(platformDataDir({ platform: 'linux', env: { XDG_DATA_HOME: '/xdg' }, home })).toBe(join('/xdg', 'conv-studio'))
    expect(platformDataDir({ platform: 'darwin', env: {}, home })).toBe(join(home, 'Library', 'Application Support', 'conv-studio'))
    const env = { LOCALAPPDATA: join(home, 'Local'), APPDATA: join(home, 'Roaming') }
    expect(platformDataDir({ platform: 'win32', env, home })).toBe(join(home, 'Local', 'conv-studio'))
  })

  it('Windows keeps using an existing roaming folder from an older version while the local one has no database', () => {
    const env = { LOCALAPPDATA: join(home, 'Local'), APPDATA: join(home, 'Roaming') }
    mkdirSync(join(home, 'Roaming', 'conv-studio'), { recursive: true })
    writeFileSync(join(home, 'Roaming', 'conv-studio', 'conv-studio.sqlite'), '')
    expect(platformDataDir({ platform: 'win32', env, home })).toBe(join(home, 'Roaming', 'conv-studio'))
    mkdirSync(join(home, 'Local', 'conv-studio'), { recursive: true })
    writeFileSync(join(home, 'Local', 'conv-studio', 'conv-studio.sqlite'), '')
    expect(platformDataDir({ platform: 'win32', env, home })).toBe(join(home, 'Local', 'conv-studio'))
  })

  it('$CONV_STUDIO_DATA_DIR beats the settings file, which beats the per-OS folder', () => {
    const at = { platform: 'linux' as const, env: {}, home }
    expect(defaultDataDir(at)).toBe(platformDataDir(at))
    writeSettings({ dataDir: '/big/disk/conv' }, at)
    expect(settingsFile(at)).toBe(join(home, '.config', 'conv-studio', 'settings.json'))
    expect(defaultDataDir(at)).toBe('/big/disk/conv')
    expect(defaultDataDir({ ...at, env: { CONV_STUDIO_DATA_DIR: '/from/env' } })).toBe('/from/env')
  })

  it('a broken or hostile settings file is no settings, never a failed start', () => {
    const at = { platform: 'linux' as const, env: {}, home }
    mkdirSync(join(home, '.config', 'conv-studio'), { recursive: true })
    for (const content of ['{not json', '[]', 'null', '{"dataDir": 42}', '{"dataDir": "   "}']) {
      writeFileSync(settingsFile(at), content)
      expect(readSettings(at)).toEqual({})
      expect(defaultDataDir(at)).toBe(platformDataDir(at))
    }
  })
})
