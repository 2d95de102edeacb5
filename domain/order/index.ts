export * from './order.decider';
export * from './order.events';
