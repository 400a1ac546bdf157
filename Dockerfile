# The Hearth image: operator, gateway, CLI and the Node worker runtime (`hearth worker`).
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY src src
USER 65532:65532
ENTRYPOINT ["node", "/app/src/cli/main.ts"]
