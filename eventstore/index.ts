export * from './aggregate-store';
export * from './codec';
export * from './db';
export * from './errors';
export * from './event-store';
export * from './schema';
export * from './types';
export * from './upcasters';
