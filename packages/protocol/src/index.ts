export * from './bundle.ts';
export * from './capabilities.ts';
export * from './errors.ts';
export * from './execute.ts';
export * from './manifest.ts';
