# One production image for the app's services; docker-compose.yml picks the command (worker,
# projector, api, migrate). TypeScript is compiled and the workflow bundle is built here, at
# image build time: the container runs plain `node` and its worker never runs webpack.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
# The worker's build id names the commit (docker build --build-arg BUILD_COMMIT=$(git rev-parse --short=12 HEAD)).
ARG BUILD_COMMIT=unknown
COPY . .
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/worker.js"]
