// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/scheduler@0.3.0' {
  export function listSchedules(): Array<ScheduleInfo>;
  export function getSchedule(scheduleId: string): ScheduleInfo | undefined;
  export function createSchedule(input: CreateScheduleInput): CreateScheduleResult;
  export function updateSchedule(scheduleId: string, input: UpdateScheduleInput): UpdateScheduleResult;
  export function deleteSchedule(scheduleId: string): DeleteScheduleResult;
  export function getEndpoints(): Array<EndpointInfo>;
  export type SchedulerError = import('alga:extension/types@0.3.0').SchedulerError;
  export type ScheduleInfo = import('alga:extension/types@0.3.0').ScheduleInfo;
  export type EndpointInfo = import('alga:extension/types@0.3.0').EndpointInfo;
  export type CreateScheduleInput = import('alga:extension/types@0.3.0').CreateScheduleInput;
  export type CreateScheduleResult = import('alga:extension/types@0.3.0').CreateScheduleResult;
  export type UpdateScheduleInput = import('alga:extension/types@0.3.0').UpdateScheduleInput;
  export type UpdateScheduleResult = import('alga:extension/types@0.3.0').UpdateScheduleResult;
  export type DeleteScheduleResult = import('alga:extension/types@0.3.0').DeleteScheduleResult;
}
