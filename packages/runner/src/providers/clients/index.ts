/** `alga:extension/clients`: linked so reference components run, never provided (see ../not-provided.ts). */
import { witErr } from '../../host-calls/index.ts';
import { defineNotProvided } from '../not-provided.ts';

export const clientsProvider = defineNotProvided('clients', {
  listClients: () => witErr('not-allowed'),
  getClient: () => witErr('not-allowed'),
});
