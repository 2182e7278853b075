export * from './generated.ts';
export * from './resources.ts';
