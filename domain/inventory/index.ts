export * from './inventory.decider';
