export * from './shared';
export * from './order';
export * from './inventory';
export * from './credit';
