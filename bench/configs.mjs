/**
 * The tracer configurations the flood runs under, shared by overhead.mjs
 * (throughput) and profile.mjs (where the time goes).
 */
import { hubPids, NEVER_US, programIdsOf, startPeer } from './common.mjs'

export const CONFIGS = [
  { key: 'baseline', label: 'no session (baseline)', sessions: 0 },
  { key: 's1', label: '1 session, matching', sessions: 1, thresholdUs: NEVER_US, target: 0.90 },
  { key: 's8', label: '8 sessions, matching', sessions: 8, thresholdUs: NEVER_US },
  { key: 's32', label: '32 sessions, matching', sessions: 32, thresholdUs: NEVER_US, target: 0.60 },
  { key: 'emit', label: '1 session, every datagram emitted', sessions: 1, thresholdUs: 0 },
  { key: 'other', label: '1 session, other port', sessions: 1, thresholdUs: NEVER_US, otherPort: true },
  { key: 'peer', label: 'bpftrace peer, matching', peer: true, thresholdUs: NEVER_US }
]

export function configByKey (key) {
  const config = CONFIGS.find((c) => c.key === key)
  if (!config) throw new Error(`unknown configuration "${key}"; known: ${CONFIGS.map((c) => c.key).join(', ')}`)
  return config
}

/**
 * Attaches what config asks for: sessions through the service on the flood's
 * port (or another), or bpftrace. Resolves with the BPF program ids it holds,
 * the attach time (per session), and detach().
 */
export async function attach (config, { service, port, otherPort }) {
  let sessions = []
  let peer
  let attachMs = NaN
  try {
    if (config.sessions > 0) {
      const t0 = performance.now()
      sessions = await service.createSessions(config.sessions, {
        filter: { ports: [config.otherPort ? otherPort : port] },
        thresholdUs: config.thresholdUs
      })
      attachMs = (performance.now() - t0) / config.sessions
    }
    if (config.peer) {
      peer = await startPeer(port, config.thresholdUs)
      attachMs = peer.attachMs
    }
  } catch (err) {
    await service.deleteSessions(sessions)
    throw err
  }
  return {
    sessions,
    attachMs,
    ownIds: peer ? programIdsOf(peer.proc.pid) : [...new Set([...service.loaderPids(), ...hubPids()].flatMap(programIdsOf))],
    async detach () {
      await service.deleteSessions(sessions)
      await peer?.proc.stop(10_000)
    }
  }
}
