// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/scheduler@0.3.0 **/
export function listSchedules(): Array<ScheduleInfo>;
export function getSchedule(scheduleId: string): ScheduleInfo | undefined;
export function createSchedule(input: CreateScheduleInput): CreateScheduleResult;
export function updateSchedule(scheduleId: string, input: UpdateScheduleInput): UpdateScheduleResult;
export function deleteSchedule(scheduleId: string): DeleteScheduleResult;
export function getEndpoints(): Array<EndpointInfo>;
export type SchedulerError = import('./alga-extension-types.js').SchedulerError;
export type ScheduleInfo = import('./alga-extension-types.js').ScheduleInfo;
export type EndpointInfo = import('./alga-extension-types.js').EndpointInfo;
export type CreateScheduleInput = import('./alga-extension-types.js').CreateScheduleInput;
export type CreateScheduleResult = import('./alga-extension-types.js').CreateScheduleResult;
export type UpdateScheduleInput = import('./alga-extension-types.js').UpdateScheduleInput;
export type UpdateScheduleResult = import('./alga-extension-types.js').UpdateScheduleResult;
export type DeleteScheduleResult = import('./alga-extension-types.js').DeleteScheduleResult;
