// Command achrisk-example evaluates one ACH payment with ach-risk, reads the decision back
// by its client_transaction_id and prints both. See README.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	achriskv1 "github.com/ach-risk/ach-risk/gen/go/achrisk/v1"
)

func main() {
	addr := flag.String("addr", envOr("ACH_RISK_ADDR", "127.0.0.1:50051"), "the service's host:port (env ACH_RISK_ADDR)")
	apiKey := flag.String("api-key", os.Getenv("ACH_RISK_API_KEY"), "bearer API key; empty sends none, as `make run` on loopback needs (env ACH_RISK_API_KEY)")
	txID := flag.String("id", "", "client_transaction_id (the idempotency key); empty: a new random one")
	deadline := flag.Duration("deadline", 45*time.Second, "deadline of each call: a live balance can take Plaid 30 s or more")
	flag.Parse()
	if *txID == "" {
		*txID = newTransactionID()
	}
	if err := run(*addr, *apiKey, *txID, *deadline); err != nil {
		// The gRPC status: its canonical code name (UNAVAILABLE, as the docs spell it) and
		// message. s.Details() holds the google.rpc details (ErrorInfo, RetryInfo, BadRequest).
		if s, ok := status.FromError(err); ok {
			fmt.Fprintf(os.Stderr, "error: %s: %s\n", code.Code(s.Code()), s.Message())
		} else {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(addr, apiKey, txID string, deadline time.Duration) error {
	// Plaintext, as `make run` serves; with ACH_RISK_TLS_* set on the service, use
	// grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{})) instead.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := achriskv1.NewRiskDecisionServiceClient(conn)

	call := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		if apiKey != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+apiKey)
		}
		return ctx, cancel
	}

	ctx, cancel := call()
	defer cancel()
	evaluated, err := client.EvaluatePayment(ctx, &achriskv1.EvaluatePaymentRequest{
		ClientTransactionId: txID,
		// The embedded Plaid emulator's sandbox Item and account.
		AccessToken: "access-sandbox-checking-ok",
		AccountId:   "checking-ok",
		Amount:      &money.Money{CurrencyCode: "USD", Units: 42, Nanos: 500_000_000},
		Rail:        achriskv1.PaymentRail_PAYMENT_RAIL_ACH_STANDARD,
		// A Balance-only ruleset: Plaid asks the bank for a live balance.
		RulesetKey: "balance-only",
	})
	if err != nil {
		return err
	}
	printDecision("evaluated", evaluated.GetDecision())

	ctx2, cancel2 := call()
	defer cancel2()
	stored, err := client.GetDecision(ctx2, &achriskv1.GetDecisionRequest{ClientTransactionId: txID})
	if err != nil {
		return err
	}
	printDecision("read_back", stored.GetDecision())
	return nil
}

// printDecision writes one `prefix.field: value` line per field, the same lines as the
// TypeScript and Python examples print.
func printDecision(prefix string, d *achriskv1.Decision) {
	rt := d.GetRealtimeBalance()
	codes := make([]string, 0, len(d.GetReasons()))
	for _, r := range d.GetReasons() {
		codes = append(codes, r.GetCode())
	}
	lines := [][2]string{
		{"client_transaction_id", d.GetClientTransactionId()},
		{"result", d.GetResult().String()},
		{"source", d.GetSource().String()},
		{"reasons", strings.Join(codes, ",")},
		{"realtime_balance.basis", rt.GetBasis().String()},
		{"realtime_balance.attempted", fmt.Sprint(rt.GetAttempted())},
		{"realtime_balance.fetched", fmt.Sprint(rt.GetFetched())},
		{"replayed", fmt.Sprint(d.GetReplayed())},
	}
	for _, l := range lines {
		fmt.Printf("%s.%s: %s\n", prefix, l[0], l[1])
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// newTransactionID is 35 characters (Plaid allows 36), random so that reruns never meet
// an earlier payment's id.
func newTransactionID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "go-" + hex.EncodeToString(b)
}
