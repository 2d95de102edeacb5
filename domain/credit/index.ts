export * from './credit.decider';
