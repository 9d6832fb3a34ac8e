// @stride/client: typed clients for every Stride service, over Connect or grpc-web, with the
// access token attached and refreshed for you.
//
// The messages and service descriptors under ./gen are generated from proto/ (see README.md);
// this file is the only hand-written part: transport choice, sign-in helpers, token handling.

import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

import { CatalogService } from "./gen/stride/activity_session/v1/catalog_pb.js";
import { RoutineService } from "./gen/stride/activity_session/v1/routines_pb.js";
import { SessionService } from "./gen/stride/activity_session/v1/sessions_pb.js";
import { TaskService } from "./gen/stride/activity_session/v1/tasks_pb.js";
import { ReflectionService } from "./gen/stride/activity_session/v1/reflections_pb.js";
import { LearningService } from "./gen/stride/activity_session/v1/learning_pb.js";
import { UserPlanService } from "./gen/stride/activity_session/v1/plans_pb.js";
import { WorkoutLogService } from "./gen/stride/activity_session/v1/workouts_pb.js";
import { AiCoachService } from "./gen/stride/ai_coach/v1/ai_coach_pb.js";
import { PracticeService } from "./gen/stride/ai_coach/v1/practice_pb.js";
import { ConversationService } from "./gen/stride/ai_coach/v1/conversations_pb.js";
import { FeedbackService } from "./gen/stride/ai_coach/v1/feedback_pb.js";
import { AgentService } from "./gen/stride/ai_coach/v1/agents_pb.js";
import { DoubtService, QuizService } from "./gen/stride/ai_coach/v1/study_pb.js";
import { MaterialService } from "./gen/stride/ai_coach/v1/materials_pb.js";
import { AnalyticsService } from "./gen/stride/analytics/v1/analytics_pb.js";
import { DashboardService } from "./gen/stride/analytics/v1/dashboard_pb.js";
import { FiguresService } from "./gen/stride/analytics/v1/figures_pb.js";
import { MasteryService } from "./gen/stride/analytics/v1/mastery_pb.js";
import { ShareService } from "./gen/stride/analytics/v1/share_pb.js";
import { TrendsService } from "./gen/stride/analytics/v1/trends_pb.js";
import {
  AuthService,
  type ConfirmSignupResponse,
  type LoginResponse,
  type SignupResponse,
  type TokenPair,
} from "./gen/stride/auth/v1/auth_pb.js";
import { ChallengeService } from "./gen/stride/challenge/v1/challenge_pb.js";
import { FriendService } from "./gen/stride/challenge/v1/friends_pb.js";
import { LeaderboardService } from "./gen/stride/challenge/v1/leaderboard_pb.js";
import { RewardService } from "./gen/stride/challenge/v1/rewards_pb.js";
import { Access, policy } from "./gen/stride/options/v1/options_pb.js";
import { ProfileService } from "./gen/stride/profile/v1/profile_pb.js";
import { NotificationService } from "./gen/stride/profile/v1/notifications_pb.js";
import { DataExportService } from "./gen/stride/profile/v1/export_pb.js";

export {
  CatalogService,
  AiCoachService,
  PracticeService,
  ConversationService,
  FeedbackService,
  QuizService,
  AgentService,
  DoubtService,
  MaterialService,
  AnalyticsService,
  AuthService,
  DashboardService,
  FiguresService,
  MasteryService,
  ShareService,
  TrendsService,
  ChallengeService,
  DataExportService,
  FriendService,
  LeaderboardService,
  NotificationService,
  ProfileService,
  RoutineService,
  RewardService,
  SessionService,
  TaskService,
  ReflectionService,
  LearningService,
  UserPlanService,
  WorkoutLogService,
};
export { Code, ConnectError };

/** A bad field of a request, from the error's `google.rpc.BadRequest` detail. */
export interface FieldViolation {
  /** The request field path, e.g. `profile.timezone` (to put the message beside the right input). */
  field: string;
  description: string;
}

// The two google.rpc details Stride sends, read straight from their bytes: the protos do not
// include google/rpc, and two string fields do not justify generating it.
function incoming(err: unknown, type: string): Uint8Array[] {
  return ConnectError.from(err)
    .details.filter((d): d is { type: string; value: Uint8Array } => "type" in d && d.type === type)
    .map((d) => d.value);
}

function strings(bytes: Uint8Array, wanted: number[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (wanted.includes(no) && wt === WireType.LengthDelimited) {
      out.set(no, [...(out.get(no) ?? []), r.string()]);
    } else {
      r.skip(wt, no);
    }
  }
  return out;
}

/** Every field violation an `INVALID_ARGUMENT` error carries (all bad fields come back at once). */
export function fieldViolations(err: unknown): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const bytes of incoming(err, "google.rpc.BadRequest")) {
    const r = new BinaryReader(bytes);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 && wt === WireType.LengthDelimited) {
        const v = strings(r.bytes(), [1, 2]);
        out.push({ field: v.get(1)?.[0] ?? "", description: v.get(2)?.[0] ?? "" });
      } else {
        r.skip(wt, no);
      }
    }
  }
  return out;
}

/** The stable reason of an error (`TOKEN_EXPIRED`, `SESSION_ALREADY_ACTIVE`, …) from its `google.rpc.ErrorInfo`. */
export function errorReason(err: unknown): string | undefined {
  const [info] = incoming(err, "google.rpc.ErrorInfo");
  return info ? strings(info, [1, 2]).get(1)?.[0] : undefined;
}

/** Which wire protocol the browser speaks to the gateway; both are served on its one port. */
export type Protocol = "connect" | "grpc-web";

/** The tokens the client keeps between calls (plain JSON, so any store can hold them). */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (milliseconds since the epoch), if the server said. */
  accessTokenExpiresAt?: number;
}

/**
 * Where tokens live. The default keeps them in memory (lost on reload); use
 * {@link localStorageTokenStore} or your own (a secure store in a hybrid app, say).
 */
export interface TokenStore {
  load(): StoredTokens | undefined | Promise<StoredTokens | undefined>;
  /** `undefined` clears the store (signed out, or the refresh token was refused). */
  save(tokens: StoredTokens | undefined): void | Promise<void>;
}

export function memoryTokenStore(initial?: StoredTokens): TokenStore {
  let tokens = initial;
  return {
    load: () => tokens,
    save: (t) => {
      tokens = t;
    },
  };
}

/** Keeps the tokens in `window.localStorage` under `key` (survives reloads; same-origin only). */
export function localStorageTokenStore(key = "stride.tokens"): TokenStore {
  return {
    load: () => {
      const raw = globalThis.localStorage?.getItem(key);
      return raw ? (JSON.parse(raw) as StoredTokens) : undefined;
    },
    save: (t) => {
      if (t === undefined) globalThis.localStorage?.removeItem(key);
      else globalThis.localStorage?.setItem(key, JSON.stringify(t));
    },
  };
}

/** A token pair as the API returns it, in the shape the store keeps. */
export function storedTokens(pair: TokenPair): StoredTokens {
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    accessTokenExpiresAt: pair.accessTokenExpireTime ? timestampMs(pair.accessTokenExpireTime) : undefined,
  };
}

export interface StrideClientOptions {
  /** The gateway, e.g. `https://api.example.com` (no trailing path). */
  baseUrl: string;
  /** Default `connect`. */
  protocol?: Protocol;
  /** Protobuf binary instead of JSON on the wire (Connect only; grpc-web is always binary). */
  useBinaryFormat?: boolean;
  /** Default: in memory. */
  tokenStore?: TokenStore;
  /** Refresh this long before the access token's expiry instead of waiting for a refusal. Default 30 s. */
  refreshSkewMs?: number;
  /** Called after every successful refresh (e.g. to count or log them). */
  onTokensRefreshed?: (tokens: StoredTokens) => void;
  /** Called when the refresh token is refused: the user must sign in again. */
  onSignedOut?: () => void;
  /** Replaces `globalThis.fetch` (tests, server-side rendering). */
  fetch?: typeof globalThis.fetch;
}

/** Whether a method needs a token, from its `stride.options.v1.policy` option (as the gateway decides). */
export function needsToken(method: DescMethod): boolean {
  return !hasOption(method, policy) || getOption(method, policy).access !== Access.PUBLIC;
}

/**
 * Attaches the access token to calls that need one; refreshes it (single-flight: concurrent
 * calls share one Refresh) before it expires and once when a call is refused as
 * UNAUTHENTICATED, then retries that call once.
 */
export class TokenManager {
  private refreshing: Promise<StoredTokens | undefined> | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly refreshCall: (refreshToken: string) => Promise<TokenPair | undefined>,
    private readonly options: Pick<StrideClientOptions, "refreshSkewMs" | "onTokensRefreshed" | "onSignedOut">,
  ) {}

  async current(): Promise<StoredTokens | undefined> {
    return await this.store.load();
  }

  async set(tokens: StoredTokens | undefined): Promise<void> {
    await this.store.save(tokens);
  }

  /**
   * Exchanges the refresh token for a new pair. Concurrent callers share one call; a caller
   * that saw an older access token than the stored one gets the stored one without a call.
   */
  refresh(staleAccessToken?: string): Promise<StoredTokens | undefined> {
    if (this.refreshing) return this.refreshing;
    const run = async (): Promise<StoredTokens | undefined> => {
      const tokens = await this.store.load();
      if (!tokens) return undefined;
      if (staleAccessToken !== undefined && tokens.accessToken !== staleAccessToken) return tokens;
      let pair: TokenPair | undefined;
      try {
        pair = await this.refreshCall(tokens.refreshToken);
      } catch (err) {
        const refused = ConnectError.from(err).code === Code.Unauthenticated;
        if (refused) {
          await this.store.save(undefined);
          this.options.onSignedOut?.();
          return undefined;
        }
        throw err;
      }
      if (!pair) return undefined;
      const fresh = storedTokens(pair);
      await this.store.save(fresh);
      this.options.onTokensRefreshed?.(fresh);
      return fresh;
    };
    this.refreshing = run().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** The access token to send now, refreshed first if it is about to expire. */
  async accessToken(): Promise<string | undefined> {
    let tokens = await this.store.load();
    if (!tokens) return undefined;
    const skew = this.options.refreshSkewMs ?? 30_000;
    if (tokens.accessTokenExpiresAt !== undefined && tokens.accessTokenExpiresAt - skew <= Date.now()) {
      tokens = await this.refresh(tokens.accessToken);
    }
    return tokens?.accessToken;
  }

  interceptor(): Interceptor {
    return (next) => async (req) => {
      if (!needsToken(req.method)) return await next(req);
      const token = await this.accessToken();
      if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
      try {
        return await next(req);
      } catch (err) {
        // A streamed request cannot be replayed; a unary one can, once.
        if (req.stream || token === undefined || ConnectError.from(err).code !== Code.Unauthenticated) {
          throw err;
        }
        const fresh = await this.refresh(token);
        if (!fresh) throw err;
        req.header.set("authorization", `Bearer ${fresh.accessToken}`);
        return await next(req);
      }
    };
  }
}

export interface StrideClient {
  auth: Client<typeof AuthService>;
  profile: Client<typeof ProfileService>;
  notifications: Client<typeof NotificationService>;
  exports: Client<typeof DataExportService>;
  catalog: Client<typeof CatalogService>;
  sessions: Client<typeof SessionService>;
  tasks: Client<typeof TaskService>;
  reflections: Client<typeof ReflectionService>;
  learning: Client<typeof LearningService>;
  userPlans: Client<typeof UserPlanService>;
  workoutLogs: Client<typeof WorkoutLogService>;
  routines: Client<typeof RoutineService>;
  challenge: Client<typeof ChallengeService>;
  leaderboards: Client<typeof LeaderboardService>;
  rewards: Client<typeof RewardService>;
  friends: Client<typeof FriendService>;
  analytics: Client<typeof AnalyticsService>;
  trends: Client<typeof TrendsService>;
  mastery: Client<typeof MasteryService>;
  dashboard: Client<typeof DashboardService>;
  figures: Client<typeof FiguresService>;
  shareCards: Client<typeof ShareService>;
  coach: Client<typeof AiCoachService>;
  practice: Client<typeof PracticeService>;
  /** Conversations with the coach; `sendMessage` streams the reply (tokens, tool activity, final message). */
  conversations: Client<typeof ConversationService>;
  /** Feedback on coach answers, usage against the daily quota, admin stats. */
  coachFeedback: Client<typeof FeedbackService>;
  /** Quizzes generated for a learning topic, submitted and scored. */
  quizzes: Client<typeof QuizService>;
  agents: Client<typeof AgentService>;
  /** Doubts: a question answered in a structured shape, optionally from a learning topic's lessons. */
  doubts: Client<typeof DoubtService>;
  /** Study materials: upload (text, Markdown, PDF), processing progress, questions answered with citations. */
  materials: Client<typeof MaterialService>;
  tokens: TokenManager;
  transport: Transport;
  /** Signup; stores the tokens when the account is active at once (no confirmation required). */
  signUp(req: { email: string; username: string; password: string; timezone?: string }): Promise<SignupResponse>;
  /** ConfirmSignup with the mailed code; stores the tokens. */
  confirmSignUp(req: { email: string; code: string; password: string }): Promise<ConfirmSignupResponse>;
  /** Login; stores the tokens. */
  logIn(req: { email: string; password: string }): Promise<LoginResponse>;
  /** Logout (ends this session server-side), then clears the store even if that call fails. */
  signOut(): Promise<void>;
}

export function createTransport(
  opts: Pick<StrideClientOptions, "baseUrl" | "protocol" | "useBinaryFormat" | "fetch">,
  interceptors: Interceptor[] = [],
): Transport {
  const common = { baseUrl: opts.baseUrl, interceptors, fetch: opts.fetch };
  return opts.protocol === "grpc-web"
    ? createGrpcWebTransport(common)
    : createConnectTransport({ ...common, useBinaryFormat: opts.useBinaryFormat ?? false });
}

/** Clients for every service over one transport, sharing one token store. */
export function createStrideClient(opts: StrideClientOptions): StrideClient {
  // Refresh goes over a transport without the token interceptor, so it can never recurse.
  const bare = createClient(AuthService, createTransport(opts));
  const tokens = new TokenManager(
    opts.tokenStore ?? memoryTokenStore(),
    async (refreshToken) => (await bare.refresh({ refreshToken })).tokens,
    opts,
  );
  const transport = createTransport(opts, [tokens.interceptor()]);
  const auth = createClient(AuthService, transport);
  const keep = async (pair: TokenPair | undefined) => {
    if (pair) await tokens.set(storedTokens(pair));
  };
  return {
    auth,
    profile: createClient(ProfileService, transport),
    notifications: createClient(NotificationService, transport),
    exports: createClient(DataExportService, transport),
    catalog: createClient(CatalogService, transport),
    sessions: createClient(SessionService, transport),
    tasks: createClient(TaskService, transport),
    reflections: createClient(ReflectionService, transport),
    learning: createClient(LearningService, transport),
    userPlans: createClient(UserPlanService, transport),
    workoutLogs: createClient(WorkoutLogService, transport),
    routines: createClient(RoutineService, transport),
    challenge: createClient(ChallengeService, transport),
    leaderboards: createClient(LeaderboardService, transport),
    rewards: createClient(RewardService, transport),
    friends: createClient(FriendService, transport),
    analytics: createClient(AnalyticsService, transport),
    trends: createClient(TrendsService, transport),
    mastery: createClient(MasteryService, transport),
    dashboard: createClient(DashboardService, transport),
    figures: createClient(FiguresService, transport),
    shareCards: createClient(ShareService, transport),
    coach: createClient(AiCoachService, transport),
    practice: createClient(PracticeService, transport),
    conversations: createClient(ConversationService, transport),
    coachFeedback: createClient(FeedbackService, transport),
    quizzes: createClient(QuizService, transport),
    agents: createClient(AgentService, transport),
    doubts: createClient(DoubtService, transport),
    materials: createClient(MaterialService, transport),
    tokens,
    transport,
    async signUp(req) {
      const res = await auth.signup({ ...req, timezone: req.timezone ?? "" });
      await keep(res.tokens);
      return res;
    },
    async confirmSignUp(req) {
      const res = await auth.confirmSignup(req);
      await keep(res.tokens);
      return res;
    },
    async logIn(req) {
      const res = await auth.login(req);
      await keep(res.tokens);
      return res;
    },
    async signOut() {
      try {
        if (await tokens.current()) await auth.logout({});
      } finally {
        await tokens.set(undefined);
      }
    },
  };
}
