import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOriginAllowed } from '../../src/core/auth/origin.js';

const prod = { allowedOrigins: ['https://shop.example.com:443', 'http://admin.example.com:8080'], allowLocalhost: false };

test('allowlisted origins match with or without their default port', () => {
  assert.equal(isOriginAllowed('https://shop.example.com', undefined, prod), true);
  assert.equal(isOriginAllowed('http://admin.example.com:8080', undefined, prod), true);
  assert.equal(isOriginAllowed('http://admin.example.com', undefined, prod), false, 'another port is another origin');
  assert.equal(isOriginAllowed('http://shop.example.com', undefined, prod), false, 'another scheme is another origin');
});

test('the page own host is allowed; other sites, odd schemes and garbage are not', () => {
  assert.equal(isOriginAllowed('https://app.example.org', 'app.example.org', prod), true);
  assert.equal(isOriginAllowed('https://evil.example', 'app.example.org', prod), false);
  assert.equal(isOriginAllowed('file://', undefined, prod), false);
  assert.equal(isOriginAllowed('null', undefined, prod), false);
});

test('localhost origins only when allowed (development), and clients without Origin pass', () => {
  assert.equal(isOriginAllowed('http://localhost:5173', undefined, prod), false);
  assert.equal(isOriginAllowed('http://localhost:5173', undefined, { ...prod, allowLocalhost: true }), true);
  assert.equal(isOriginAllowed('http://[::1]:3000', undefined, { ...prod, allowLocalhost: true }), true);
  assert.equal(isOriginAllowed(undefined, undefined, prod), true);
});
