/** The warning when the kernel caps the transports' UDP buffers (no mediasoup needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { socketBufferCap } from './socket-buffers.ts';

const limits = (values: Record<string, string>) => (file: string) => {
  const v = values[file.split('/').pop()!];
  if (v === undefined) throw new Error(`ENOENT: ${file}`);
  return v;
};

test('socketBufferCap names the sysctl limits below the asked size and how to raise them', () => {
  assert.equal(socketBufferCap(2 ** 21, limits({ rmem_max: '4194304\n', wmem_max: '4194304\n' })), undefined);
  const low = socketBufferCap(2 ** 21, limits({ rmem_max: '212992\n', wmem_max: '4194304\n' }));
  assert.match(low ?? '', /net\.core\.rmem_max=212992/);
  assert.doesNotMatch(low ?? '', /wmem_max=4194304/);
  assert.match(low ?? '', /sysctl -w net\.core\.rmem_max=2097152 net\.core\.wmem_max=2097152/);
});

test('socketBufferCap says nothing when the limits cannot be read or make no sense', () => {
  assert.equal(socketBufferCap(2 ** 21, limits({})), undefined);
  assert.equal(socketBufferCap(2 ** 21, limits({ rmem_max: 'garbage', wmem_max: '' })), undefined);
});
