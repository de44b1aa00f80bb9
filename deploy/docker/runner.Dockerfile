# A stateless runner. Build from the repository root:
#   docker build -f deploy/docker/runner.Dockerfile -t alga/runner .
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY samples ./samples
RUN npm ci --omit=dev --workspace packages/runner --include-workspace-root=false --ignore-scripts

FROM node:24-slim
ENV NODE_ENV=production RUNNER_HOST=0.0.0.0 RUNNER_PORT=8081
WORKDIR /app
COPY --from=deps /app /app
RUN useradd --system --uid 10002 runner
USER 10002
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:8081/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The flags are RUNNER_NODE_FLAGS (packages/runner/src/node-flags.ts).
CMD ["node", "--max-semi-space-size=16", "packages/runner/src/main.ts"]
