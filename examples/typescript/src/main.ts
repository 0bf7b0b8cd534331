// Evaluates one ACH payment with ach-risk, reads the decision back by its
// client_transaction_id and prints both. See README.md.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import {
  type Decision,
  DecisionResultSchema,
  DecisionSourceSchema,
  PaymentRail,
  RealtimeBalanceBasisSchema,
  RiskDecisionService,
} from "../gen/achrisk/v1/risk_service_pb.js";

const { values: flags } = parseArgs({
  options: {
    // The service's host:port; `make run` serves plaintext on 127.0.0.1:50051.
    addr: { type: "string", default: process.env.ACH_RISK_ADDR || "127.0.0.1:50051" },
    // Bearer API key; empty sends none, as `make run` on loopback needs.
    "api-key": { type: "string", default: process.env.ACH_RISK_API_KEY ?? "" },
    // client_transaction_id (the idempotency key); empty: a new random one.
    id: { type: "string", default: "" },
    // Deadline of each call, in seconds: a live balance can take Plaid 30 s or more.
    deadline: { type: "string", default: "45" },
  },
});

const apiKey = flags["api-key"];
const bearer: Interceptor = (next) => async (req) => {
  if (apiKey) req.header.set("authorization", `Bearer ${apiKey}`);
  return next(req);
};

// createGrpcTransport speaks plain gRPC over HTTP/2, which is what the service serves.
// With ACH_RISK_TLS_* set on the service, use an https:// baseUrl.
const transport = createGrpcTransport({
  baseUrl: `http://${flags.addr}`,
  interceptors: [bearer],
});
const client = createClient(RiskDecisionService, transport);
const timeoutMs = Number(flags.deadline) * 1000;
// 35 characters (Plaid allows 36), random so that reruns never meet an earlier payment's id.
const txId = flags.id || `ts-${randomBytes(16).toString("hex")}`;

// One `prefix.field: value` line per field, the same lines as the Go and Python examples.
function printDecision(prefix: string, d: Decision | undefined): void {
  if (d === undefined) throw new Error(`${prefix}: the response carries no decision`);
  const rt = d.realtimeBalance;
  const lines: [string, string][] = [
    ["client_transaction_id", d.clientTransactionId],
    ["result", DecisionResultSchema.value[d.result].name],
    ["source", DecisionSourceSchema.value[d.source].name],
    ["reasons", d.reasons.map((r) => r.code).join(",")],
    ["realtime_balance.basis", RealtimeBalanceBasisSchema.value[rt?.basis ?? 0].name],
    ["realtime_balance.attempted", String(rt?.attempted ?? false)],
    ["realtime_balance.fetched", String(rt?.fetched ?? false)],
    ["replayed", String(d.replayed)],
  ];
  for (const [field, value] of lines) console.log(`${prefix}.${field}: ${value}`);
}

async function main(): Promise<void> {
  const evaluated = await client.evaluatePayment(
    {
      clientTransactionId: txId,
      // The embedded Plaid emulator's sandbox Item and account.
      accessToken: "access-sandbox-checking-ok",
      accountId: "checking-ok",
      amount: { currencyCode: "USD", units: 42n, nanos: 500_000_000 },
      rail: PaymentRail.ACH_STANDARD,
      // A Balance-only ruleset: Plaid asks the bank for a live balance.
      rulesetKey: "balance-only",
    },
    { timeoutMs },
  );
  printDecision("evaluated", evaluated.decision);
  const stored = await client.getDecision({ clientTransactionId: txId }, { timeoutMs });
  printDecision("read_back", stored.decision);
}

main().catch((err: unknown) => {
  // The gRPC status: its canonical code name (UNAVAILABLE, as the docs spell it) and message.
  // err.findDetails(...) decodes the google.rpc details (ErrorInfo, RetryInfo, BadRequest).
  const e = ConnectError.from(err);
  const name = Code[e.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
  console.error(`error: ${name}: ${e.rawMessage}`);
  process.exit(1);
});
