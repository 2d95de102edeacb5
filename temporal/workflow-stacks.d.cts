import type { GlobalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';

/** Makes `handlers` (the SDK's, before it installs them) keep promise stacks unformatted until read. */
export declare function deferStackFormatting(handlers: GlobalHandlers): void;
