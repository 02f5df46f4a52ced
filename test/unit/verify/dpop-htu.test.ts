// RFC 9449 §4.3 htu comparison after RFC 3986 §6.2.2/§6.2.3 normalisation, including what Node's
// URL parser leaves undone (PITFALLS.md): %7E, lower-case hex, userinfo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeHtu, requestHtu } from '../../../src/verify/dpop/normalize-htu.js';

test('case, default port, empty path, dot segments: one normal form', () => {
  const normal = 'https://mail.example.test/api/mail';
  for (const spelling of [
    'https://mail.example.test/api/mail',
    'HTTPS://Mail.Example.TEST/api/mail',
    'https://mail.example.test:443/api/mail',
    'https://mail.example.test:/api/mail',
    'https://mail.example.test/api/./x/../mail',
  ])
    assert.equal(normalizeHtu(spelling), normal, spelling);
  assert.equal(normalizeHtu('https://mail.example.test'), 'https://mail.example.test/');
  assert.equal(normalizeHtu('http://mail.example.test:80/a'), 'http://mail.example.test/a');
  assert.equal(normalizeHtu('https://mail.example.test:8443/a'), 'https://mail.example.test:8443/a');
});

test('percent-encoding: unreserved decoded, the rest upper-cased, %2F never a slash', () => {
  assert.equal(normalizeHtu('https://h.test/%7Ealice/%7e'), 'https://h.test/~alice/~');
  assert.equal(normalizeHtu('https://h.test/a%2fb'), 'https://h.test/a%2Fb');
  assert.notEqual(normalizeHtu('https://h.test/a%2fb'), normalizeHtu('https://h.test/a/b'));
  assert.equal(normalizeHtu('https://h.test/%41%62'), 'https://h.test/Ab');
});

test('userinfo, query and fragment are not part of htu; a trailing slash is', () => {
  assert.equal(normalizeHtu('https://user:pw@h.test/a?x=1#f'), 'https://h.test/a');
  assert.notEqual(normalizeHtu('https://h.test/credential/'), normalizeHtu('https://h.test/credential'));
});

test('not an http(s) URI, or a broken escape: no normal form (nuts-node #4112: %zz panicked)', () => {
  for (const bad of [
    '%zz',
    'https://h.test/%zz',
    'https://h.test/%4',
    'ftp://h.test/a',
    'urn:x:y',
    '',
    'https://',
  ])
    assert.equal(normalizeHtu(bad), undefined, bad);
  assert.equal(normalizeHtu(`https://h.test/${'a'.repeat(5000)}`), undefined);
});

test("the request's htu: the configured origin and the path as received, without its query", () => {
  assert.equal(
    requestHtu('https://mail.example.test', '/api/mail/messages?top=5'),
    'https://mail.example.test/api/mail/messages',
  );
  assert.equal(
    requestHtu('https://mail.example.test', '/api/mail/%7Ebob'),
    'https://mail.example.test/api/mail/~bob',
  );
});
