// The pure domain: data and functions, no I/O, no clock reads.
export * from './conditions.ts';
export * from './duration.ts';
export * from './email.ts';
export * from './invitation-state.ts';
export * from './roles.ts';
export * from './scope.ts';
export * from './seats.ts';
export * from './time.ts';
export * from './tokens.ts';
