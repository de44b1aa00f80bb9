import type { Command } from 'commander';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';

/**
 * `alga egress list` / `alga egress set <hosts...>`: the outbound hosts a
 * tenant admin grants an install beyond its manifest's allowedHosts (a
 * reference-host manifest lists none). `set` replaces the whole list; with
 * no hosts it grants none. The server checks each host like allowedHosts.
 */
export function register(program: Command): void {
  installVerb(program, 'egress', 'list', 'Show the hosts the install may call').action(
    async (opts: InstallTargetFlags) => {
      const { extensionId, client } = await resolveInstallTarget(opts);
      const view = await client.getInstall(extensionId);
      const granted = view.install.egressGrants ?? [];
      if (!view.install.grantedCapabilities?.includes('cap:http.fetch')) {
        console.log(`${extensionId} was not granted cap:http.fetch: it makes no outbound requests.`);
      }
      console.log(granted.length > 0 ? `granted: ${granted.join(', ')}` : 'granted: (none)');
    },
  );
  installVerb(
    program,
    'egress',
    'set [hosts...]',
    'Replace the granted hosts: alga egress set api.example.com *.example.net (none: grant nothing)',
  ).action(async (hosts: string[], opts: InstallTargetFlags) => {
    const { extensionId, client } = await resolveInstallTarget(opts);
    const result = await client.setEgressGrants(extensionId, hosts);
    console.log(
      result.hosts.length > 0
        ? `${extensionId} may now also call: ${result.hosts.join(', ')}`
        : `${extensionId} has no granted hosts.`,
    );
  });
}
