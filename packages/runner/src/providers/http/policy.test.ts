/** Unit tests of the allowlist grammar and the address vetting (no network). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrivateAllowList, vetAddress } from './address.ts';
import { entryAllows, parseAllowEntry, parseAllowList, findAllowing, parseRequestUrl, suggestEntry } from './policy.ts';

function allows(entry: string, url: string): boolean {
  const parsed = parseAllowEntry(entry);
  assert.ok(parsed, `entry ${entry} should parse`);
  return entryAllows(parsed, new URL(url));
}

describe('allowedHosts entries', () => {
  it('a bare host means https, default port, any path', () => {
    assert.deepEqual(parseAllowEntry('api.example.com'), {
      source: 'api.example.com',
      protocol: 'https:',
      host: 'api.example.com',
      wildcard: false,
      port: '443',
      pathPrefix: '/',
    });
    assert.ok(allows('api.example.com', 'https://api.example.com/any/path?q=1'));
    assert.ok(allows('api.example.com', 'https://api.example.com:443/'));
    assert.ok(!allows('api.example.com', 'http://api.example.com/'));
    assert.ok(!allows('api.example.com', 'https://api.example.com:8443/'));
    assert.ok(!allows('api.example.com', 'https://api.example.com.evil.net/'));
    assert.ok(!allows('api.example.com', 'https://xapi.example.com/'));
  });

  it('host:port and explicit schemes', () => {
    assert.ok(allows('api.example.com:8443', 'https://api.example.com:8443/x'));
    assert.ok(!allows('api.example.com:8443', 'https://api.example.com/x'));
    assert.ok(allows('https://api.example.com:8443', 'https://api.example.com:8443/'));
    assert.ok(allows('http://api.example.com', 'http://api.example.com/'));
    assert.ok(!allows('http://api.example.com', 'https://api.example.com/'));
    assert.ok(allows('http://api.example.com:80', 'http://api.example.com/'));
    assert.ok(allows('HTTPS://API.Example.COM', 'https://api.example.com/'));
  });

  it('compares hosts case-insensitively, IDNA-normalized, ignoring a trailing dot', () => {
    assert.ok(allows('API.EXAMPLE.COM', 'https://api.Example.com/'));
    assert.ok(allows('bücher.de', 'https://xn--bcher-kva.de/'));
    assert.ok(allows('xn--bcher-kva.de', 'https://BÜCHER.de/'));
    assert.ok(allows('api.example.com', 'https://api.example.com./'));
    assert.ok(allows('api.example.com.', 'https://api.example.com/'));
  });

  it('wildcards match one or more labels below the domain, never the apex', () => {
    assert.ok(allows('*.example.com', 'https://a.example.com/'));
    assert.ok(allows('*.example.com', 'https://a.b.example.com/'));
    assert.ok(!allows('*.example.com', 'https://example.com/'));
    assert.ok(!allows('*.example.com', 'https://evilexample.com/'));
    assert.ok(!allows('*.example.com', 'https://example.com.evil.net/'));
    assert.ok(allows('http://*.example.com:8080/v1', 'http://a.example.com:8080/v1/x'));
    assert.ok(!allows('http://*.example.com:8080/v1', 'http://a.example.com:8080/v2'));
  });

  it('path prefixes match whole segments', () => {
    const entry = 'https://api.example.com/v1';
    assert.ok(allows(entry, 'https://api.example.com/v1'));
    assert.ok(allows(entry, 'https://api.example.com/v1/'));
    assert.ok(allows(entry, 'https://api.example.com/v1/users'));
    assert.ok(!allows(entry, 'https://api.example.com/v10'));
    assert.ok(!allows(entry, 'https://api.example.com/'));
    assert.ok(!allows(entry, 'https://api.example.com/v1/../admin'));
    assert.ok(allows('https://api.example.com/v1/', 'https://api.example.com/v1/x'));
  });

  it('malformed entries allow nothing', () => {
    for (const bad of [
      '',
      '*',
      '*.com',
      'ftp://x.example.com',
      'user@x.example.com',
      'a.*.example.com',
      'x y',
      'https://x/?q',
      'https://*',
    ]) {
      assert.equal(parseAllowEntry(bad), undefined, bad);
    }
    const list = parseAllowList(['*', 'api.example.com', 42]);
    assert.deepEqual(list.malformed, ['*', '42']);
    assert.equal(findAllowing(list, new URL('https://other.example/')), undefined);
    assert.equal(findAllowing(parseAllowList([]), new URL('https://api.example.com/')), undefined);
    assert.equal(findAllowing(parseAllowList(undefined), new URL('https://api.example.com/')), undefined);
    // A string is not a list: it must not be read character by character.
    assert.equal(findAllowing(parseAllowList('a'), new URL('https://a/')), undefined);
  });

  it('suggests the entry that would allow a URL', () => {
    assert.equal(suggestEntry(new URL('https://API.example.com/x?y')), 'api.example.com');
    assert.equal(suggestEntry(new URL('https://api.example.com:8443/')), 'api.example.com:8443');
    assert.equal(suggestEntry(new URL('http://api.example.com/')), 'http://api.example.com');
    assert.equal(suggestEntry(new URL('http://localhost:8080/')), 'http://localhost:8080');
    assert.equal(suggestEntry(new URL('https://api.example.com./')), 'api.example.com');
  });
});

describe('request URLs', () => {
  it('accepts http(s) and normalizes numeric hosts; refuses the rest', () => {
    const decimal = parseRequestUrl('http://2852039166/');
    assert.ok(decimal.ok && decimal.url.hostname === '169.254.169.254');
    const octal = parseRequestUrl('http://0251.0376.0251.0376/');
    assert.ok(octal.ok && octal.url.hostname === '169.254.169.254');
    const short = parseRequestUrl('http://127.1/');
    assert.ok(short.ok && short.url.hostname === '127.0.0.1');
    for (const bad of [
      '',
      'nope',
      'ftp://x/',
      'data:text/plain,x',
      'http://a:b@x/',
      'http://a@x/',
      `https://x/${'a'.repeat(8200)}`,
    ]) {
      assert.equal(parseRequestUrl(bad).ok, false, bad.slice(0, 40));
    }
    assert.equal(parseRequestUrl(42).ok, false);
  });
});

describe('address vetting', () => {
  const none = new PrivateAllowList();

  it('lets globally routable unicast through', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8']) {
      assert.equal(vetAddress(address, none).ok, true, address);
    }
    assert.deepEqual(vetAddress('::ffff:8.8.8.8', none), { ok: true, address: '8.8.8.8', family: 4 });
  });

  it('refuses private, loopback, link-local, metadata, CGNAT, multicast, reserved, ULA, mapped and NAT64 forms', () => {
    const refused = [
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '127.0.0.1',
      '127.255.255.254',
      '::1',
      '169.254.1.1',
      'fe80::1',
      '169.254.169.254',
      'fd00:ec2::254',
      '0.0.0.0',
      '::',
      '100.64.0.1',
      '100.127.255.255',
      '224.0.0.1',
      'ff02::1',
      '240.0.0.1',
      '255.255.255.255',
      '192.0.2.1',
      'fc00::1',
      'fd12:3456::1',
      '::ffff:a9fe:a9fe',
      '::ffff:127.0.0.1',
      '[::ffff:127.0.0.1]',
      '::7f00:1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::7f00:1',
      '2002:7f00:1::1',
      '2001:db8::1',
      'fec0::1',
      'not-an-ip',
    ];
    for (const address of refused) assert.equal(vetAddress(address, none).ok, false, address);
  });

  it('operator CIDRs open private ranges (also through mapped IPv6) but never metadata', () => {
    const loopback = PrivateAllowList.parse('127.0.0.0/8, 10.0.0.0/8');
    assert.equal(loopback.size, 2);
    assert.equal(vetAddress('127.0.0.1', loopback).ok, true);
    assert.equal(vetAddress('::ffff:127.0.0.1', loopback).ok, true);
    assert.equal(vetAddress('10.9.9.9', loopback).ok, true);
    assert.equal(vetAddress('192.168.0.1', loopback).ok, false);
    assert.equal(vetAddress('::1', loopback).ok, false);
    const linkLocal = new PrivateAllowList(['169.254.0.0/16', 'fd00::/8']);
    assert.equal(vetAddress('169.254.1.1', linkLocal).ok, true);
    assert.deepEqual(vetAddress('169.254.169.254', linkLocal), {
      ok: false,
      address: '169.254.169.254',
      reason: 'cloud metadata address',
    });
    assert.equal(vetAddress('fd00:ec2::254', linkLocal).ok, false);
    assert.equal(PrivateAllowList.parse(undefined).size, 0);
    assert.equal(PrivateAllowList.parse(' , ').size, 0);
    assert.throws(() => PrivateAllowList.parse('127.0.0.1'), /Not a CIDR/);
    assert.throws(() => new PrivateAllowList(['10.0.0.0/33']), /Not a CIDR/);
  });
});
