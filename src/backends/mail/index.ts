// The mail backends' public surface.
export * from './types.ts';
export * from './message-id.ts';
export * from './templates.ts';
export * from './smtp.ts';
export * from './log.ts';
export * from './registry.ts';
