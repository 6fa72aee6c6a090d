import type { Filter } from '../schemas/session.js'

export interface ProbeSpec {
  plan: 'auto' | 'fentry' | 'kprobe' | 'tracepoint'
  /** The marks to take; null for all the plan sees. */
  marks: readonly string[] | null
  /** Whether to measure what the readers do. */
  reader: boolean
  /** Which datagrams to trace. */
  direction: 'receive' | 'send' | 'both'
  thresholdUs: number
  filter: Filter
}

const FAMILY_ARGS = { ipv4: '4', ipv6: '6' } as const

/** The loader's command line (bpf/user/args.c) for one session: --shared joins the host's hub, so sessions share one probe set. */
export function probeArgs ({ plan, marks, reader, direction, thresholdUs, filter }: ProbeSpec): string[] {
  const args = ['--format', 'bin', '--shared', '--plan', plan, '--direction', direction, '--threshold-us', String(thresholdUs)]
  if (marks !== null) args.push('--marks', marks.join(','))
  if (!reader) args.push('--no-reader')
  const add = (flag: string, values: Array<string | number> | string | number | undefined) => {
    for (const value of [values ?? []].flat()) args.push(flag, String(value))
  }
  add('--port', filter.ports)
  add('--laddr', filter.localAddrs)
  add('--raddr', filter.remoteAddrs)
  add('--rport', filter.remotePort)
  add('--pid', filter.pid)
  add('--comm', filter.comm)
  add('--cgroup', filter.cgroup)
  add('--netns', filter.netns)
  add('--family', filter.family && FAMILY_ARGS[filter.family])
  return args
}
