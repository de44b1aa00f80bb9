# The control plane and gateway. Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t alga/server .
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY samples ./samples
# Runtime dependencies of the server workspace only; Node 24 runs the
# TypeScript sources directly (type stripping), so there is no build step.
RUN npm ci --omit=dev --workspace packages/server --include-workspace-root=false --ignore-scripts

FROM node:24-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 ALGA_DATA_DIR=/var/lib/alga
WORKDIR /app
COPY --from=deps /app /app
COPY wit ./wit
RUN useradd --system --uid 10001 alga && mkdir -p /var/lib/alga && chown alga /var/lib/alga
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "packages/server/src/main.ts"]
