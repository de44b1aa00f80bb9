/** `alga:extension/services`: linked so reference components run, never provided (see ../not-provided.ts). */
import { witErr } from '../../host-calls/index.ts';
import { defineNotProvided } from '../not-provided.ts';

export const servicesProvider = defineNotProvided('services', {
  listServices: () => witErr('not-allowed'),
  getService: () => witErr('not-allowed'),
});
