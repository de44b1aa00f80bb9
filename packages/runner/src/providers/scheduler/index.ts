/**
 * `alga:extension/scheduler`: linked so reference components run, never
 * provided (see ../not-provided.ts). Its create, update and delete answer a
 * record, so they refuse as the reference host does without the
 * capability: `success: false` with the reason in `error`.
 */
import { witErr } from '../../host-calls/index.ts';
import { defineNotProvided, notProvidedMessage } from '../not-provided.ts';

const error = notProvidedMessage('scheduler');

export const schedulerProvider = defineNotProvided('scheduler', {
  listSchedules: () => witErr('denied'),
  getSchedule: () => witErr('denied'),
  getEndpoints: () => witErr('denied'),
  createSchedule: () => ({ success: false, error }),
  updateSchedule: () => ({ success: false, error }),
  deleteSchedule: () => ({ success: false, error }),
});
