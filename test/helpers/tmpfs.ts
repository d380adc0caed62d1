// Small real file systems for disk-full and read-only faults. tmpfs mounts need CAP_SYS_ADMIN; root
// in a container without it cannot run these, so callers skip with this reason. Probe, don't guess.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** null when tmpfs can be mounted here, else why not. */
export const tmpfsUnavailable: string | null = (() => {
  const probe = mkdtempSync(join(tmpdir(), 'mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' })
    execFileSync('umount', [probe], { stdio: 'pipe' })
    return null
  } catch (e) {
    return `cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
})()

/** A test body run against a fresh tmpfs of `sizeKb` KiB, unmounted afterwards. */
export function withTmpfs(sizeKb: number, body: (mnt: string) => void | Promise<void>) {
  return async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'tmpfs-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', mnt])
    try {
      await body(mnt)
    } finally {
      execFileSync('umount', [mnt])
      rmSync(mnt, { recursive: true, force: true })
    }
  }
}
