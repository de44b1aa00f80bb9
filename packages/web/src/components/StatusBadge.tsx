import type { InstallStatus } from '@alga-psa/protocol';

const TEXT: Record<InstallStatus, string> = { active: 'Active', 'needs-setup': 'Needs setup', disabled: 'Disabled' };

export function StatusBadge({ status }: { status: InstallStatus }) {
  return <span className={`badge badge-${status}`}>{TEXT[status]}</span>;
}
