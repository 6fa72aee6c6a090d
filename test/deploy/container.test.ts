import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { DOCKERFILE, ROOT, runtimeStageInstallArgs } from './tree.js'

// No container engine runs here: the Dockerfile is linted, its runtime stage's install step is run
// by install.test.ts, and the manifest is checked against both.
const exec = promisify(execFile)
const dockerfile = readFileSync(DOCKERFILE, 'utf8')

describe('Dockerfile', () => {
  it('passes dockerfile-utils lint without a word (it exits 0 on warnings)', async () => {
    const { stdout, stderr } = await exec(`${ROOT}node_modules/.bin/dockerfile-utils`, ['lint', DOCKERFILE], { timeout: 30_000 })
    expect(stdout + stderr).toBe('')
  })

  it('builds in one stage and runs as a numeric non-root user with a /healthz HEALTHCHECK in the other', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2)
    expect(runtimeStageInstallArgs()).toEqual(['--container'])
    const uid = /^ARG UDPLAT_UID=(\d+)$/m.exec(dockerfile)?.[1]
    expect(Number(uid)).toBeGreaterThan(0)
    expect(dockerfile).toMatch(/^USER \$\{UDPLAT_UID\}:\$\{UDPLAT_UID\}$/m)
    expect(dockerfile).toMatch(/^ {2}CMD \["\/opt\/udplat\/bin\/udplat-healthcheck"\]$/m)
    expect(readFileSync(`${ROOT}scripts/healthcheck`, 'utf8')).toContain('/healthz')
  })

  it('lets into the build context every file it copies, and only those', () => {
    const allowed = readFileSync(`${ROOT}.dockerignore`, 'utf8').split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1))
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(' '))
    expect(copied.sort()).toEqual(allowed.sort())
    for (const path of copied) expect(existsSync(`${ROOT}${path}`), path).toBe(true)
  })
})

describe('deploy/daemonset.yaml', () => {
  const documents = parseAllDocuments(readFileSync(`${ROOT}deploy/daemonset.yaml`, 'utf8')).map((doc) => doc.toJS())
  const daemonSet = documents.find((doc) => doc.kind === 'DaemonSet')
  const pod = daemonSet.spec.template.spec
  const container = pod.containers[0]

  it('runs the image\'s user with only the loader\'s capabilities in the bounding set, and no no_new_privs', () => {
    expect(daemonSet.spec.selector.matchLabels).toEqual(daemonSet.spec.template.metadata.labels)
    expect(container.securityContext).toMatchObject({
      runAsUser: Number(/^ARG UDPLAT_UID=(\d+)$/m.exec(dockerfile)?.[1]),
      runAsNonRoot: true,
      allowPrivilegeEscalation: true,
      capabilities: { drop: ['ALL'], add: ['BPF', 'PERFMON'] }
    })
    expect(container.securityContext.privileged).toBeUndefined()
  })

  it('shares the host\'s pid and network namespaces, mounts the kernel\'s BTF, and probes /healthz', () => {
    expect(pod).toMatchObject({ hostPID: true, hostNetwork: true })
    const btf = pod.volumes.find((volume: any) => volume.hostPath?.path === '/sys/kernel/btf')
    expect(container.volumeMounts).toContainEqual({ name: btf.name, mountPath: '/sys/kernel/btf', readOnly: true })
    expect(container.livenessProbe.httpGet.path).toBe('/healthz')
    // Listening beyond loopback requires a token.
    expect(container.env).toContainEqual({ name: 'UDPLAT_TOKEN_FILE', value: '/etc/udplat/token' })
  })
})
