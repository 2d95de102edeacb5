export * from './aggregate-cache';
export * from './handle-command';
