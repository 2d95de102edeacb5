// Drops the databases this run created and stops what global-setup started.
export default async function globalTeardown(): Promise<void> {
  await globalThis.__stopIntegrationInfrastructure?.();
}
