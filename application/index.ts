export * from './aggregate-cache';
export * from './handle-command';
export * from './order-creation';
