import type { Command } from 'commander';
import { CliError } from '../lib/errors.ts';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';
import { loadProject } from '../lib/project.ts';

/**
 * `key=value`: the value is JSON when it parses as JSON (numbers, booleans,
 * lists), else the plain string — so `greeting=Hello` needs no quoting.
 */
export function parseAssignment(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliError(`"${text}" is not key=value; e.g. alga config set greeting=Hello`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  try {
    return [key, JSON.parse(raw) as unknown];
  } catch {
    return [key, raw];
  }
}

export function register(program: Command): void {
  installVerb(
    program,
    'config',
    'set <assignments...>',
    'Change config keys: alga config set greeting=Hello retries=3',
  ).action(async (assignments: string[], opts: InstallTargetFlags) => {
    const { extensionId, client } = await resolveInstallTarget(opts);
    const view = await client.getInstall(extensionId);
    const changes = Object.fromEntries(assignments.map(parseAssignment));
    // Secrets have their own encrypted path; catch the mistake before the value travels anywhere.
    const local = opts.ext ? undefined : (await loadProject(opts.dir)).manifest;
    for (const key of Object.keys(changes)) {
      if (local?.settings.some((s) => s.key === key && s.secret)) {
        throw new CliError(`"${key}" is a secret; set it with: alga secrets set ${key}`);
      }
    }
    await client.setConfig(extensionId, { ...view.config, ...changes });
    console.log(`Updated ${Object.keys(changes).join(', ')} for ${extensionId}`);
  });
}
