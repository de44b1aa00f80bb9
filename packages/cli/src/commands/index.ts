import type { Command } from 'commander';
import { register as newComponent } from './new.ts';
import { register as build } from './build.ts';
import { register as test } from './test.ts';
import { register as dev } from './dev.ts';
import { register as pack } from './pack.ts';
import { register as login } from './login.ts';
import { register as publish } from './publish.ts';
import { register as install, registerUninstall as uninstall } from './install.ts';
import { register as configGet } from './config-get.ts';
import { register as configSet } from './config-set.ts';
import { register as secretsSet } from './secrets-set.ts';
import { register as secretsList } from './secrets-list.ts';
import { register as secretsDelete } from './secrets-delete.ts';
import { register as egress } from './egress.ts';
import { register as logs } from './logs.ts';
import { register as reference } from './reference.ts';
import { register as audit } from './audit.ts';
import { register as apiKeys } from './api-keys.ts';
import { register as policy } from './policy.ts';
import { register as tenants } from './tenants.ts';
import { register as users } from './users.ts';
import { register as keys } from './keys.ts';
import { register as sign } from './sign.ts';

/** The command table: one file per command, registered in help order (the order a new user meets them). */
export const commands: ((program: Command) => void)[] = [
  newComponent,
  build,
  test,
  dev,
  pack,
  login,
  keys,
  sign,
  publish,
  install,
  uninstall,
  configGet,
  configSet,
  secretsSet,
  secretsList,
  secretsDelete,
  egress,
  logs,
  audit,
  apiKeys,
  policy,
  tenants,
  users,
  // Last in help: the reference CLI's spellings of the commands above.
  reference,
];
