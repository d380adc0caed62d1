// What both window transports (Electron IPC, the web-mode WebSocket) put between a window and
// services.handle: the contract's host-only rule, a dataset that must be a known id, and a cap on
// the calls that spawn a child process. Hosts (CLI, Electron main's dialogs, the HTTP file routes)
// call services.handle directly.
import { StudioError, windowCallRefusal, windowDatasetId, type Reply } from '../../shared/contract'
import type { Services } from '../services'

/** Backend probes and benchmarks each fork a process that loads tfjs; windows get this many at once. */
export const MAX_CHILD_JOBS = 2
const CHILD_JOB_METHODS = new Set(['backends.report', 'backends.benchmark'])

export interface WindowCalls {
  handle(method: unknown, rawArgs: unknown): Promise<Reply<unknown>>
}

function refusal(error: StudioError): Reply<never> {
  return { ok: false, error: error.toValue() }
}

/** One per services: the child-job cap is shared by every window of every transport. */
const perServices = new WeakMap<Services, WindowCalls>()

/**
 * A window names a dataset by an id the services list, never by a path: a bare name could still be
 * a folder relative to the server's working directory. Also used by the HTTP file routes.
 */
export async function unknownDataset(services: Services, dataset: string): Promise<StudioError | null> {
  if (!windowDatasetId.test(dataset))
    return new StudioError('invalid_argument', 'The dataset must be a dataset id from the Datasets page, not a folder path; import the folder there first.')
  if (!(await services.datasets.list()).some((d) => d.id === dataset))
    return new StudioError('not_found', `There is no dataset '${dataset}'; choose one on the Datasets page.`)
  return null
}

export function windowCalls(services: Services): WindowCalls {
  let calls = perServices.get(services)
  if (!calls) perServices.set(services, (calls = createWindowCalls(services)))
  return calls
}

function createWindowCalls(services: Services): WindowCalls {
  let childJobs = 0
  return {
    async handle(method, rawArgs) {
      const refused = windowCallRefusal(method, rawArgs)
      if (refused) return { ok: false, error: refused }
      if (method === 'training.start') {
        const dataset = (rawArgs as { config?: { dataset?: unknown } } | null)?.config?.dataset
        const unknown = typeof dataset === 'string' ? await unknownDataset(services, dataset) : null
        if (unknown) return refusal(unknown)
      }
      if (typeof method === 'string' && CHILD_JOB_METHODS.has(method)) {
        if (childJobs >= MAX_CHILD_JOBS)
          return refusal(new StudioError('unavailable', `A backend probe or benchmark is already running (at most ${MAX_CHILD_JOBS} at once); wait for it to finish.`))
        childJobs++
        try {
          return await services.handle(method, rawArgs)
        } finally {
          childJobs--
        }
      }
      return services.handle(method as string, rawArgs)
    }
  }
}
