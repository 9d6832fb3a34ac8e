// Unit tests of the token rules in src/index.ts (pure logic; the browser test runs them against
// the real mesh). Run by `npm run test:unit` (esbuild, then node's test runner).

import assert from "node:assert/strict";
import { test } from "node:test";

import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";

import { TokenPairSchema, type TokenPair } from "../../src/gen/stride/auth/v1/auth_pb.js";
import {
  AuthService,
  Code,
  ConnectError,
  ProfileService,
  TokenManager,
  memoryTokenStore,
  needsToken,
  storedTokens,
} from "../../src/index.js";

function pair(n: number, expiresInMs = 15 * 60_000): TokenPair {
  return create(TokenPairSchema, {
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    accessTokenExpireTime: timestampFromMs(Date.now() + expiresInMs),
  });
}

/** A refresh function that counts its calls and answers after the test lets it. */
function refresher(answer: () => TokenPair | Error) {
  const state = { calls: 0, seen: [] as string[] };
  const call = async (refreshToken: string) => {
    state.calls += 1;
    state.seen.push(refreshToken);
    await new Promise((r) => setTimeout(r, 10));
    const a = answer();
    if (a instanceof Error) throw a;
    return a;
  };
  return { state, call };
}

test("public methods get no token, every other one does (from the policy option)", () => {
  assert.equal(needsToken(AuthService.method.login), false);
  assert.equal(needsToken(AuthService.method.signup), false);
  assert.equal(needsToken(AuthService.method.refresh), false);
  assert.equal(needsToken(AuthService.method.logout), true);
  assert.equal(needsToken(AuthService.method.getMe), true);
  assert.equal(needsToken(ProfileService.method.getMyProfile), true);
});

test("concurrent refreshes share one call and one new pair", async () => {
  const store = memoryTokenStore(storedTokens(pair(1)));
  const r = refresher(() => pair(2));
  const tm = new TokenManager(store, r.call, {});
  const got = await Promise.all([tm.refresh("access-1"), tm.refresh("access-1"), tm.refresh("access-1")]);
  assert.equal(r.state.calls, 1);
  assert.deepEqual(r.state.seen, ["refresh-1"]);
  assert.deepEqual(
    got.map((t) => t?.accessToken),
    ["access-2", "access-2", "access-2"],
  );
  assert.equal((await store.load())?.refreshToken, "refresh-2");
});

test("a caller that saw an older token gets the stored one without another refresh", async () => {
  const store = memoryTokenStore(storedTokens(pair(1)));
  const r = refresher(() => pair(2));
  const tm = new TokenManager(store, r.call, {});
  await tm.refresh("access-1");
  const late = await tm.refresh("access-1");
  assert.equal(r.state.calls, 1, "the rotated refresh token is never spent twice");
  assert.equal(late?.accessToken, "access-2");
});

test("a refused refresh token clears the store and signs out", async () => {
  const store = memoryTokenStore(storedTokens(pair(1)));
  let signedOut = 0;
  const r = refresher(() => new ConnectError("refresh token reused", Code.Unauthenticated));
  const tm = new TokenManager(store, r.call, { onSignedOut: () => (signedOut += 1) });
  assert.equal(await tm.refresh("access-1"), undefined);
  assert.equal(await store.load(), undefined);
  assert.equal(signedOut, 1);
});

test("an unavailable auth keeps the tokens and reports the error", async () => {
  const store = memoryTokenStore(storedTokens(pair(1)));
  const r = refresher(() => new ConnectError("down", Code.Unavailable));
  const tm = new TokenManager(store, r.call, {});
  await assert.rejects(tm.refresh("access-1"), (e: unknown) => ConnectError.from(e).code === Code.Unavailable);
  assert.equal((await store.load())?.refreshToken, "refresh-1");
});

test("the access token is refreshed only when it expires within the skew", async () => {
  const fresh = memoryTokenStore(storedTokens(pair(1, 10 * 60_000)));
  const r1 = refresher(() => pair(2));
  assert.equal(await new TokenManager(fresh, r1.call, { refreshSkewMs: 30_000 }).accessToken(), "access-1");
  assert.equal(r1.state.calls, 0);

  const expiring = memoryTokenStore(storedTokens(pair(1, 10_000)));
  const r2 = refresher(() => pair(2));
  assert.equal(await new TokenManager(expiring, r2.call, { refreshSkewMs: 30_000 }).accessToken(), "access-2");
  assert.equal(r2.state.calls, 1);
});

test("signed out: no token, no refresh", async () => {
  const r = refresher(() => pair(2));
  const tm = new TokenManager(memoryTokenStore(), r.call, {});
  assert.equal(await tm.accessToken(), undefined);
  assert.equal(await tm.refresh(), undefined);
  assert.equal(r.state.calls, 0);
});
