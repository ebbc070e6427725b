// Bundle entry of the benchmarks: the production workflows plus the floor workflow.
export * from '../workflows';
export * from './floor-workflows';
