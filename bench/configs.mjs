/**
 * The tracer configurations the flood runs under, shared by overhead.mjs
 * (throughput) and profile.mjs (where the time goes).
 */
import { hubPids, NEVER_US, programIdsOf, startPeer } from './common.mjs'

export const CONFIGS = [
  { key: 'baseline', label: 'no session (baseline)', sessions: 0 },
  { key: 's1', label: '1 session, matching', sessions: 1, thresholdUs: NEVER_US, target: 0.90 },
  { key: 'seed', label: '1 session, the seed\'s marks (enqueue, read), no reader', sessions: 1, thresholdUs: NEVER_US, marks: ['enqueue', 'read'], reader: false, target: 0.90 },
  // return is the receive system calls' exit: its tracepoints put every system call of the host on the slow path.
  { key: 'noreturn', label: '1 session, every mark but return (no system call traced)', sessions: 1, thresholdUs: NEVER_US, marks: ['rx', 'arrive', 'enqueue', 'read'] },
  { key: 'noreader', label: '1 session, reader: false', sessions: 1, thresholdUs: NEVER_US, reader: false },
  { key: 's8', label: '8 sessions, matching', sessions: 8, thresholdUs: NEVER_US },
  { key: 's32', label: '32 sessions, matching', sessions: 32, thresholdUs: NEVER_US, target: 0.70 },
  // The flood's sender sends to the port from an ephemeral one: a send session matches it by its remote port.
  { key: 'send', label: '1 send session, matching', sessions: 1, thresholdUs: NEVER_US, direction: 'send', byRemotePort: true, target: 0.85 },
  { key: 'both', label: '1 session of both directions, matching (a path per datagram)', sessions: 1, thresholdUs: NEVER_US, direction: 'both', target: 0.75 },
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
        filter: config.byRemotePort ? { remotePort: port } : { ports: [config.otherPort ? otherPort : port] },
        thresholdUs: config.thresholdUs,
        ...(config.marks ? { marks: config.marks } : {}),
        ...(config.reader === undefined ? {} : { reader: config.reader }),
        ...(config.direction ? { direction: config.direction } : {})
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
