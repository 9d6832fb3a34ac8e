// Drives Debian's Chromium (never a browser downloaded by a tool) with playwright-core for the
// Rust e2e tests (tests/tests/e2e/browser.rs). One JSON argument says what to do:
//
//   {"task": "journey", "chromium": "/usr/bin/chromium", "page": "http://127.0.0.1:P/index.html",
//    "gateway": "http://127.0.0.1:G", "runs": [{"protocol": "connect", "binary": false, "name": "..."}]}
//   {"task": "docs", "chromium": "...", "url": "http://127.0.0.1:G/docs", "screenshot": "/path.png",
//    "expect": ["GetMyProfile", "/api/v1/me"], "together": [["GetMyProfile", "GET", "/api/v1/me"]]}
//
// It talks to the Rust test in JSON lines: on stdout `{"type":"host","id":N,"req":{...}}` (the
// page needs the mailed code, or the mesh's clock moved) answered on stdin by `{"id":N,"res":{...}}`;
// `{"type":"report",...}` per journey or docs page; `{"type":"done"}` last. Logs go to stderr.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { chromium } from "playwright-core";

/** Flags for a closed network: no background fetches, no updates, no sync, no QUIC. */
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const config = JSON.parse(process.argv[2] ?? "{}");

/** @param {unknown} msg */
function send(msg) {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** @type {Map<number, (res: unknown) => void>} */
const waiting = new Map();
let nextId = 1;
createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, res } = JSON.parse(line);
  waiting.get(id)?.(res);
  waiting.delete(id);
});

/** @param {unknown} req */
function askHost(req) {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({ type: "host", id, req });
  });
}

async function main() {
  const userDataDir = mkdtempSync(join(tmpdir(), "stride-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: config.chromium,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await context.newPage();
    page.on("console", (m) => {
      // The journey makes calls that must fail; Chromium logs each refused response.
      if (!m.text().startsWith("Failed to load resource")) {
        process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
      }
    });
    page.on("pageerror", (e) => process.stderr.write(`[page error] ${e.message}\n`));
    if (config.task === "journey") {
      await journeys(page);
    } else if (config.task === "docs") {
      await docs(page);
    } else {
      throw new Error(`unknown task ${JSON.stringify(config.task)}`);
    }
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** @param {import("playwright-core").Page} page */
async function journeys(page) {
  await page.exposeFunction("strideHost", askHost);
  /** @type {Set<string>} */
  let seen = new Set();
  page.on("request", (r) => {
    if (r.url().startsWith(config.gateway)) {
      seen.add(`${r.method()} ${r.headers()["content-type"] ?? ""}`);
    }
  });
  await page.goto(config.page);
  // The page's globals (see page.ts), untyped here.
  await page.waitForFunction(() => typeof (/** @type {any} */ (window).runJourney) === "function");
  for (const run of config.runs) {
    seen = new Set();
    const report = await page.evaluate((args) => /** @type {any} */ (window).runJourney(args), { gateway: config.gateway, ...run });
    send({ type: "report", report: { ...report, requests: [...seen].sort() } });
  }
}

/** @param {import("playwright-core").Page} page */
async function docs(page) {
  const response = await page.goto(config.url, { waitUntil: "networkidle" });
  const expected = /** @type {string[]} */ (config.expect ?? []);
  // The page renders the OpenAPI document with script: wait until what we look for is drawn.
  let found = /** @type {string[]} */ ([]);
  try {
    await page.waitForFunction(
      (words) => words.every((w) => document.body.innerText.includes(w)),
      expected,
      { timeout: 20_000 },
    );
  } catch {
    // Reported below as missing words.
  }
  const text = await page.evaluate(() => document.body.innerText);
  found = expected.filter((w) => text.includes(w));
  // Each [method, verb, path] must be shown together: the smallest block of the page that holds
  // the method's name and its path (its row) also holds its verb, and is row-sized.
  const rows = /** @type {[string, string, string][]} */ (config.together ?? []);
  const apart = await page.evaluate((rows) => {
    const blocks = [...document.querySelectorAll("body *")].map((e) => /** @type {HTMLElement} */ (e).innerText ?? "");
    return rows.filter(([name, verb, path]) => {
      const holding = blocks.filter((t) => t.includes(name) && t.includes(path));
      const row = holding.sort((a, b) => a.length - b.length)[0];
      return row === undefined || !row.includes(verb) || row.length > 300;
    });
  }, rows);
  await page.screenshot({ path: config.screenshot, fullPage: true });
  send({
    type: "report",
    report: {
      status: response?.status() ?? 0,
      title: await page.title(),
      found,
      missing: expected.filter((w) => !found.includes(w)),
      apart,
      textLength: text.length,
    },
  });
}

main()
  .then(() => {
    send({ type: "done" });
    process.exit(0);
  })
  .catch((err) => {
    process.stderr.write(`run.mjs: ${err?.stack ?? err}\n`);
    send({ type: "error", error: String(err?.message ?? err) });
    process.exit(1);
  });
