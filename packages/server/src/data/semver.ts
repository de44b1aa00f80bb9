/** Semver precedence (semver.org §11), enough to pick an extension's latest version. */
export function compareSemver(a: string, b: string): number {
  const [coreA = '', preA] = a.split('+')[0]!.split(/-(.*)/s);
  const [coreB = '', preB] = b.split('+')[0]!.split(/-(.*)/s);
  const numsA = coreA.split('.').map(Number);
  const numsB = coreB.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (numsA[i] ?? 0) - (numsB[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  // A release outranks its prereleases.
  if (!preA || !preB) return preA ? -1 : preB ? 1 : 0;
  const partsA = preA.split('.');
  const partsB = preB.split('.');
  for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
    const x = partsA[i];
    const y = partsB[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const diff = numeric
      ? Number(x) - Number(y)
      : /^\d+$/.test(x)
        ? -1
        : /^\d+$/.test(y)
          ? 1
          : x < y
            ? -1
            : x > y
              ? 1
              : 0;
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

export function latestVersion(versions: string[]): string | undefined {
  return [...versions].sort(compareSemver).at(-1);
}
