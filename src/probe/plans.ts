import { execFile } from 'node:child_process'
import type { PlanName } from './records.js'
import { cannotRun, type LoaderEnv } from './loader.js'

/** `udplat-probe --list-plans`: the kernel, its BTF, and which attach plans it allows (bpf/user/udplat.c list_plans). */
export interface HostPlans {
  kernel: string
  btf: boolean
  auto: PlanName | null
  plans: Array<{ name: PlanName, available: boolean, reason?: string }>
}

export class PlanListError extends Error {
  override name = 'PlanListError'
}

const LIST_TIMEOUT_MS = 5_000

function isHostPlans (value: unknown): value is HostPlans {
  const v = value as Partial<HostPlans> | null
  return typeof v?.kernel === 'string' && typeof v.btf === 'boolean' && Array.isArray(v.plans) &&
    v.plans.every((plan) => typeof plan?.name === 'string' && typeof plan.available === 'boolean')
}

/** Runs the loader with --list-plans; rejects with a PlanListError saying why it could not tell. */
export async function listPlans (probePath: string, env: LoaderEnv): Promise<HostPlans> {
  return await new Promise((resolve, reject) => {
    execFile(probePath, ['--list-plans'], { env, timeout: LIST_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      // Without BTF it still prints the JSON, and exits 1.
      let parsed: unknown
      try {
        parsed = JSON.parse(stdout)
      } catch { /* reported below */ }
      if (isHostPlans(parsed)) return resolve(parsed)
      const spawnError = err as NodeJS.ErrnoException | null
      if (typeof spawnError?.code === 'string') return reject(new PlanListError(cannotRun(probePath, spawnError)))
      const how = err === null
        ? 'printed no plan list'
        : err.killed ? `did not answer within ${LIST_TIMEOUT_MS} ms` : err.signal ? `was killed by ${err.signal}` : `exited with code ${err.code}`
      const tail = stderr.trim().split('\n').pop()?.slice(0, 200)
      reject(new PlanListError(`the loader ${probePath} --list-plans ${how}${tail ? `: ${tail}` : ''}`))
    })
  })
}
