// Run by tests/e2e/test_admin_ui.py against a distributed stack (not part of `npm test`):
// the admin UI on gateway 0 sees both gateways and the processor, and disconnects a user held by another.
import { test, after, before } from "node:test";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { operatorFlow } from "./admin-flow.mjs";

const SHOTS = resolve(import.meta.dirname, "../../../test-artifacts/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const tokens = JSON.parse(process.env.TIDINGS_TOKENS);
let browser;

before(async () => { mkdirSync(SHOTS, { recursive: true }); browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] }); });
after(async () => { await browser?.close(); });

test("the admin UI works against a distributed stack", async () => {
  await operatorFlow({
    browser,
    http: process.env.TIDINGS_HTTP,
    wsUrls: process.env.TIDINGS_URLS.split(","),
    key: process.env.TIDINGS_ADMIN_KEY,
    token: (name) => tokens[name],
    processes: 3, // two gateways and the processor
    shots: SHOTS,
    prefix: "distributed",
  });
});
