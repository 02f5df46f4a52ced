import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayNameOf, roleAllows, roleOf } from '../../../src/admin/admin-actor.js';

const operators = {
  issuer: 'ops',
  audience: 'provgate-admin',
  roles: { viewer: ['provgate.read', 'Readers'], operator: ['provgate.admin'] },
  roleClaims: ['scp', 'scope', 'roles'],
};

test('any one value of a role grants it, from a space-separated scope or a list of roles', () => {
  assert.equal(roleOf({ scp: 'openid provgate.admin' }, operators), 'operator');
  assert.equal(roleOf({ scope: 'provgate.read' }, operators), 'viewer');
  assert.equal(roleOf({ roles: ['Readers'] }, operators), 'viewer');
  assert.equal(roleOf({ roles: ['Readers'], scp: ['provgate.admin'] }, operators), 'operator');
  assert.equal(roleOf({ scp: 'openid' }, operators), undefined);
  assert.equal(
    roleOf({ groups: ['provgate.admin'] }, operators),
    undefined,
    'groups is not a configured claim',
  );
  assert.equal(roleOf({ roles: [{ value: 'provgate.admin' }] }, operators), undefined);
  assert.equal(roleOf({ scp: 'provgate.adminx' }, operators), undefined, 'values match whole');
});

test('an operator may do what a viewer may; a viewer may only read', () => {
  assert.ok(roleAllows('operator', 'operator'));
  assert.ok(roleAllows('operator', 'viewer'));
  assert.ok(roleAllows('viewer', 'viewer'));
  assert.ok(!roleAllows('viewer', 'operator'));
});

test('the display name is bounded and falls back through name, preferred_username, email', () => {
  assert.equal(displayNameOf({ name: ' Olga ' }), 'Olga');
  assert.equal(displayNameOf({ name: '', preferred_username: 'olga' }), 'olga');
  assert.equal(displayNameOf({ email: 'o@example.test' }), 'o@example.test');
  assert.equal(displayNameOf({}), undefined);
  assert.equal(displayNameOf({ name: 'x'.repeat(1000) })?.length, 128);
});
