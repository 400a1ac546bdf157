# The Hearth image: operator, gateway, CLI and the Node worker runtime (`hearth worker`).
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# The operator's optional malloc_trim addon (native/malloc-trim.c, README "Operator sizing"): the
# full node image has a C compiler and Node's headers.
FROM node:24 AS native
WORKDIR /build
COPY native native
RUN mkdir build && cc -O2 -shared -fPIC -Wall -I/usr/local/include/node -o build/malloc-trim.node native/malloc-trim.c

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY src src
COPY --from=native /build/build/malloc-trim.node build/malloc-trim.node
# A compile cache of every module, made at build time by the user the chart runs as (Node keys
# the cache by uid, Node version and code-generation flags; heap-size flags such as the
# operator's do not change the key). With it the TypeScript stripper (a wasm module) is never
# loaded: the operator starts ≈25 MiB smaller. A read-only root filesystem only stops new entries.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir /app/.compile-cache && chown 65532:65532 /app/.compile-cache
USER 65532:65532
RUN for c in operator gateway worker; do node /app/src/cli/main.ts "$c" --help >/dev/null || exit 1; done
ENTRYPOINT ["node", "/app/src/cli/main.ts"]
