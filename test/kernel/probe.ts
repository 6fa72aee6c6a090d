import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { StatsRecord } from '../../src/probe/records.js'
import { PROBE } from './workload.js'

/** The loader's JSON lines (bpf/user/output.c), as kernel tests read them. */
export interface ProbeEvent {
  kind: 'receive' | 'send' | 'path'
  sendNs: number | null
  queuedNs: number | null
  xmitStartNs: number | null
  xmitDoneNs: number | null
  sentNs: number | null
  rxNs: number | null
  arriveNs: number | null
  enqueueNs: number | null
  readNs: number | null
  returnNs: number | null
  stackNs: number | null
  queueNs: number | null
  copyNs: number | null
  totalNs: number | null
  sendStackNs: number | null
  qdiscNs: number | null
  driverNs: number | null
  sendTotalNs: number | null
  wireNs: number | null
  callNs: number | null
  slowestStage: string | null
  family: 'ipv4' | 'ipv6'
  src: string
  dst: string
  len: number
  pid: number
  tid: number
  comm: string
  sender: { pid: number, tid: number, comm: string } | null
  cgroupId: string
}

export interface ProbeRun {
  hello: { plan: string, marks: string[], notes: string }
  events: ProbeEvent[]
  drops: Array<{ reason: string, src: string, dst: string, len: number }>
  stats: StatsRecord
  hists: Record<string, number[]>
  dropCounts: Record<string, number>
}

export interface RunningProbe {
  pid: number
  hello: ProbeRun['hello']
  /** Stops the loader with SIGINT and returns everything it wrote. */
  stop: () => Promise<ProbeRun>
}

/** Starts udplat-probe --format json with `args`; resolves once its probes are attached. */
export async function startProbe (args: string[]): Promise<RunningProbe> {
  const child = spawn(PROBE, ['--format', 'json', '--stats-interval-ms', '100', ...args])
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const records: any[] = []
  let onHello: (hello: any) => void
  let onFail: (err: Error) => void
  const hello = new Promise<any>((resolve, reject) => { onHello = resolve; onFail = reject })
  createInterface({ input: child.stdout }).on('line', (line) => {
    const record = JSON.parse(line)
    records.push(record)
    if (record.type === 'hello') onHello(record)
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    onFail(new Error(`udplat-probe exited ${code}: ${stderr}`))
    resolve(code)
  }))
  const first = await hello
  return {
    pid: child.pid!,
    hello: first,
    stop: async () => {
      child.kill('SIGINT')
      const code = await exited
      if (code !== 0) throw new Error(`udplat-probe exited ${code}: ${stderr}`)
      const all = (type: string): any[] => records.filter((r) => r.type === type)
      // stats, hist and dropCount records are cumulative: the last of each wins.
      const hists: Record<string, number[]> = {}
      for (const h of all('hist')) hists[h.stage] = h.slots
      const dropCounts: Record<string, number> = {}
      for (const d of all('dropCount')) dropCounts[d.reason] = d.count
      return { hello: first, events: all('event'), drops: all('drop'), stats: all('stats').at(-1), hists, dropCounts }
    }
  }
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
