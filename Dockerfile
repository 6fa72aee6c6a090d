# syntax=docker/dockerfile:1
# udplat: the HTTP service and its BPF loader in one image. Build: docker build -t udplat .
# Run it with docs/deployment.md: it needs CAP_BPF and CAP_PERFMON in its bounding set, the
# kernel's BTF, and the host's pid and network namespaces.

# Build stage: the loader (clang, libbpf-dev, bpftool) and the service (npm ci, tsc).
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      clang llvm make gcc libc6-dev pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src src
RUN npm run build
COPY bpf bpf
RUN make -s -C bpf build/udplat-probe
COPY scripts/install scripts/healthcheck scripts/

# Runtime stage: Node 20 on Debian slim. scripts/install --container (also run by CI, in
# test/deploy) adds the service user, the service with its production dependencies, and the
# loader with the file capabilities cap_bpf,cap_perfmon=ep. The build tree is bind-mounted, not
# copied, so no build layer ends up in the image.
FROM node:20-bookworm-slim
ARG UDPLAT_UID=9470
RUN --mount=type=bind,from=build,source=/src,target=/src \
    UDPLAT_UID=${UDPLAT_UID} /src/scripts/install --container
ENV NODE_ENV=production \
    UDPLAT_PROBE=/opt/udplat/bin/udplat-probe
WORKDIR /opt/udplat
# A numeric user, so that Kubernetes' runAsNonRoot can check it. Node starts with no capability;
# only the loader gains CAP_BPF and CAP_PERFMON when exec'd, if the container's bounding set has them.
USER ${UDPLAT_UID}:${UDPLAT_UID}
EXPOSE 9470
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/opt/udplat/bin/udplat-healthcheck"]
# A 1 MiB young generation and one V8 worker thread: 32 full sessions stay under 120 MB (bench/RESULTS.md).
CMD ["node", "--max-semi-space-size=1", "--v8-pool-size=1", "/opt/udplat/dist/server.js"]
