# One image for the app's services; docker-compose.yml picks the command (worker, projector, api, migrate).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY . .
USER node
CMD ["npm", "run", "worker"]
