// The browser test page: the user journey through @stride/client, in a real browser, on a page
// served from another origin than the gateway's. run.mjs opens it in headless Chromium and calls
// `runJourney`; `strideHost` (exposed by run.mjs, answered by the Rust test) hands over what only
// the test can: the mailed confirmation code, and moving the mesh's clock.
//
// Every step records what it saw; the Rust test asserts on the report, not on an exit code.

import { ActivityKind } from "../../src/gen/stride/activity_session/v1/catalog_pb.js";
import { SummaryRange } from "../../src/gen/stride/analytics/v1/analytics_pb.js";
import {
  Code,
  ConnectError,
  createStrideClient,
  errorReason,
  fieldViolations,
  memoryTokenStore,
  type Protocol,
} from "../../src/index.js";

type HostRequest = { need: "code"; email: string } | { need: "advance"; minutes: number };

declare global {
  interface Window {
    strideHost(req: HostRequest): Promise<{ code?: string }>;
    runJourney(args: JourneyArgs): Promise<Report>;
  }
}

interface JourneyArgs {
  gateway: string;
  protocol: Protocol;
  binary: boolean;
  name: string;
}

type Report = Record<string, unknown> & { ok: boolean; failedStep?: string; error?: string };

const DEADLINE_MS = 30_000;

function codeName(err: unknown): string {
  const code = ConnectError.from(err).code;
  return Code[code] ?? String(code);
}

/** Calls `f` until it returns a value, or throws after the deadline (events arrive asynchronously). */
async function eventually<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + DEADLINE_MS;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`${what}: not within ${DEADLINE_MS} ms (last error: ${String(last)})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Failure {
  code: string;
  message: string;
  reason?: string;
  fields: string[];
}

async function expectError(f: () => Promise<unknown>): Promise<Failure> {
  try {
    await f();
  } catch (err) {
    const e = ConnectError.from(err);
    return {
      code: codeName(e),
      message: e.rawMessage,
      reason: errorReason(e),
      fields: fieldViolations(e).map((v) => v.field),
    };
  }
  return { code: "OK", message: "", fields: [] };
}

window.runJourney = async (args: JourneyArgs): Promise<Report> => {
  const report: Report = { ok: false, protocol: args.protocol, binary: args.binary, origin: location.origin };
  let step = "setup";
  try {
    const store = memoryTokenStore();
    let refreshes = 0;
    let signedOut = 0;
    const stride = createStrideClient({
      onSignedOut: () => {
        signedOut += 1;
      },
      baseUrl: args.gateway,
      protocol: args.protocol,
      useBinaryFormat: args.binary,
      tokenStore: store,
      onTokensRefreshed: () => {
        refreshes += 1;
      },
    });
    const email = `${args.name}@example.com`;
    const password = "correct horse battery";

    step = "no token";
    report.noToken = await expectError(() => stride.profile.getMyProfile({}));

    step = "sign up";
    const signup = await stride.signUp({ email, username: args.name, password, timezone: "America/New_York" });
    report.signup = { confirmationRequired: signup.confirmationRequired, hasTokens: signup.tokens !== undefined };

    step = "wrong code";
    report.wrongCode = await expectError(() => stride.auth.confirmSignup({ email, code: "000000", password }));

    step = "confirm sign-up";
    const { code } = await window.strideHost({ need: "code", email });
    if (!code) throw new Error("the host gave no code");
    const confirmed = await stride.confirmSignUp({ email, code, password });
    const userId = confirmed.user?.id ?? "";
    report.confirmed = { userId, passwordSet: confirmed.passwordSet, stored: (await store.load()) !== undefined };

    step = "read profile";
    const profile = await eventually("the profile is created from user.registered.v1", async () => {
      try {
        return (await stride.profile.getMyProfile({})).profile;
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) return undefined;
        throw err;
      }
    });
    report.profile = { userId: profile.userId, displayName: profile.displayName, timezone: profile.timezone };

    step = "update profile";
    const updated = await stride.profile.updateMyProfile({
      profile: { displayName: "Browser Alice", timezone: "Europe/Paris", locale: "fr" },
      updateMask: { paths: ["display_name", "timezone", "locale"] },
    });
    report.updated = {
      displayName: updated.profile?.displayName,
      timezone: updated.profile?.timezone,
      locale: updated.profile?.locale,
    };
    // With a deadline: connect-timeout-ms (Connect) or grpc-timeout (grpc-web) must pass CORS.
    const reread = (await stride.profile.getMyProfile({}, { timeoutMs: 10_000 })).profile;
    report.reread = { displayName: reread?.displayName, timezone: reread?.timezone, locale: reread?.locale };
    report.badUpdate = await expectError(() =>
      stride.profile.updateMyProfile({
        profile: { timezone: "Mars/Olympus_Mons", locale: "xx" },
        updateMask: { paths: ["timezone", "locale"] },
      }),
    );

    step = "refresh on UNAUTHENTICATED";
    const good = await store.load();
    if (!good) throw new Error("no tokens after confirmation");
    // A token the gateway refuses (its signature no longer matches): the client must refresh once
    // and retry, sharing one refresh between concurrent calls.
    const tail = good.accessToken.endsWith("AAAA") ? "BBBB" : "AAAA";
    await store.save({ ...good, accessToken: `${good.accessToken.slice(0, -4)}${tail}` });
    const before = refreshes;
    const concurrent = await Promise.all([
      stride.profile.getMyProfile({}),
      stride.profile.getMyProfile({}),
      stride.auth.getMe({}),
    ]);
    report.refreshOnRefusal = {
      calls: concurrent.length,
      refreshes: refreshes - before,
      rotated: (await store.load())?.refreshToken !== good.refreshToken,
    };

    step = "refresh before expiry";
    const current = await store.load();
    if (!current) throw new Error("no tokens after refresh");
    await store.save({ ...current, accessTokenExpiresAt: Date.now() - 1 });
    const beforeExpiry = refreshes;
    await stride.profile.getMyProfile({});
    report.refreshBeforeExpiry = { refreshes: refreshes - beforeExpiry };

    step = "run a session";
    const activities = (await stride.catalog.listActivities({ pageSize: 100 })).activities;
    const focus = activities.find((a) => a.kind === ActivityKind.FOCUS);
    if (!focus) throw new Error("no focus activity");
    const started = (await stride.sessions.startSession({ activityId: focus.id })).session;
    if (!started) throw new Error("StartSession returned no session");
    report.secondStart = await expectError(() => stride.sessions.startSession({ activityId: focus.id }));
    await window.strideHost({ need: "advance", minutes: 25 });
    const done = (await stride.sessions.completeSession({ sessionId: started.id })).session;
    report.session = { id: done?.id, durationSeconds: Number(done?.duration?.seconds ?? -1n) };
    await window.strideHost({ need: "advance", minutes: 5 });

    step = "progress summary";
    const summary = await eventually("the summary counts the session", async () => {
      const s = await stride.analytics.getProgressSummary({ range: SummaryRange.WEEK });
      return s.sessionsCompleted >= 1 ? s : undefined;
    });
    report.summary = {
      sessionsCompleted: summary.sessionsCompleted,
      focusSessions: summary.focusSessions,
      totalSeconds: Number(summary.totalDuration?.seconds ?? -1n),
      currentStreak: summary.currentStreak,
    };

    step = "refresh refused";
    // A refused access token and a refresh token auth does not know: the user must sign in again.
    const last = await store.load();
    if (!last) throw new Error("no tokens before the refused refresh");
    await store.save({ ...last, accessToken: `${last.accessToken.slice(0, -4)}${tail}`, refreshToken: "not-a-refresh-token" });
    report.refreshRefused = {
      call: await expectError(() => stride.profile.getMyProfile({})),
      stored: (await store.load()) !== undefined,
      signedOut,
    };

    step = "log in";
    const login = await stride.logIn({ email, password });
    report.login = { userId: login.user?.id, stored: (await store.load()) !== undefined };
    report.afterLogin = (await stride.profile.getMyProfile({})).profile?.displayName;

    step = "sign out";
    await stride.signOut();
    report.afterSignOut = {
      stored: (await store.load()) !== undefined,
      call: await expectError(() => stride.profile.getMyProfile({})),
    };
    report.ok = true;
  } catch (err) {
    report.failedStep = step;
    report.error = err instanceof ConnectError ? `${codeName(err)}: ${err.rawMessage}` : String(err);
  }
  return report;
};
