import { creditProjection } from './credit.projection';
import { inventoryProjection } from './inventory.projection';
import { ordersProjection } from './orders.projection';
import type { Projection } from './projection';

export const allProjections: readonly Projection[] = [
  ordersProjection,
  inventoryProjection,
  creditProjection,
];

export function findProjection(name: string): Projection | undefined {
  return allProjections.find((p) => p.name === name);
}

export * from './projection';
export * from './schema';
export * from './runner';
export * from './rebuild';
export * from './read-models';
export * from './dead-letters';
