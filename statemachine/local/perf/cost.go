package perf

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
)

// The cost model: what one execution of each shape uses (measured on the local stack, kept in step by
// TestCostShapes_MatchTheLocalStack and TestCostTransitions_FollowTheDefinition) priced at AWS's list
// prices, for a monthly volume of findings. `go run ./statemachine/local cost` prints it; the README's
// cost model section is generated from it (CostMarkdown).

// Shape is what one execution of a kind of finding uses.
type Shape struct {
	Name, What string
	// Transitions are the billed state transitions on a Standard workflow (every state entered, Pass,
	// Choice, Map, Succeed and Fail included, each state of each Map iteration, plus every retry).
	Transitions int
	// Invocations are the Lambda invocations; HandlerMs their summed handler time on the local stack
	// (each rounded up to 1 ms); Calls the AWS API calls the functions made.
	Invocations int
	HandlerMs   int
	Calls       int
	// WriteUnits and ReadUnits are DynamoDB on-demand request units (audit writes count twice: the
	// byResource index projects every attribute); Publishes SNS publishes.
	WriteUnits, ReadUnits float64
	Publishes             int
	// SFNLogBytes is the Step Functions log at the deployed level (statemachine.LogLevel, with execution
	// data only if statemachine.LogIncludeExecutionData): AWS's history events for the local run's
	// events, a 300-byte envelope per event estimated, their data measured when it is logged;
	// LambdaLogBytes the functions' own JSON log lines, measured, plus PlatformLogBytes per invocation.
	SFNLogBytes, LambdaLogBytes int
	// Signs are the verify step's KMS Sign requests (one per action); PlanChecks the bot invocations,
	// each checking its plan (a cold one first reads the key's public half: one GetPublicKey). Both are
	// asymmetric KMS requests, priced apart from the topic's.
	Signs, PlanChecks int
	// CallsBy lists the API calls by service, for the README.
	CallsBy string
}

// PerAction is what each further action adds to a remediation: Needs approval? (Choice), Which bot?
// (Choice), the bot's Task, Held by blast-radius limit? (Choice), Record result (Pass).
const PerAction = 5

// Approval path transitions: an APPROVE action adds Prepare approval, Wait for approval, Approved? and
// Run approved action; an action the blast-radius limit held adds those, Ask to approve held action,
// and the bot's second run (Which bot?, the Task, Held…?) before its result is recorded.
const (
	ApproveAdds = 4
	HeldAdds    = 8
)

// Shapes are the measured executions (go run ./statemachine/local cost --measure reproduces them).
var Shapes = []Shape{
	{Name: ShapeNoAction, What: "no action: skip or notify decision (unmapped type, below minSeverity)",
		Transitions: 9, Invocations: 4, HandlerMs: 8, Calls: 5, Publishes: 3,
		SFNLogBytes: 9_600, LambdaLogBytes: 1_295, CallsBy: "SNS 3, EventBridge 1, SSM 1"},
	{Name: ShapeOne, What: "one action (s3_block_public_access; any single bot, notify_only included)",
		Transitions: 16, Invocations: 6, HandlerMs: 26, Calls: 20, WriteUnits: 8, ReadUnits: 3, Publishes: 3,
		SFNLogBytes: 16_200, LambdaLogBytes: 5_790, Signs: 1, PlanChecks: 1,
		CallsBy: "DynamoDB 8, S3 3, SNS 3, SSM 2, EventBridge 1, GuardDuty 1, KMS 1, Step Functions 1"},
	{Name: ShapeTwo, What: "two actions (the EC2 rule: ec2_tag_instance, ec2_stop_instance)",
		Transitions: 21, Invocations: 7, HandlerMs: 35, Calls: 30, WriteUnits: 12, ReadUnits: 4, Publishes: 3,
		SFNLogBytes: 20_700, LambdaLogBytes: 7_585, Signs: 2, PlanChecks: 2,
		CallsBy: "DynamoDB 12, EC2 7, SNS 3, KMS 2, SSM 2, Step Functions 2, EventBridge 1, GuardDuty 1"},
	{Name: ShapeForged, What: "forged: remediate decided, GuardDuty does not confirm it (verify rejects)",
		Transitions: 10, Invocations: 5, HandlerMs: 13, Calls: 6, Publishes: 3,
		SFNLogBytes: 11_700, LambdaLogBytes: 2_503, CallsBy: "SNS 3, EventBridge 1, GuardDuty 1, SSM 1"},
	{Name: ShapeRejected, What: "rejected at parse (malformed or hostile event)",
		Transitions: 6, Invocations: 2, HandlerMs: 5, Calls: 4, Publishes: 3,
		SFNLogBytes: 6_600, LambdaLogBytes: 1_041, CallsBy: "SNS 3, EventBridge 1"},
}

// ShapeNamed returns the shape called name.
func ShapeNamed(name string) (Shape, bool) {
	for _, s := range Shapes {
		if s.Name == name {
			return s, true
		}
	}
	return Shape{}, false
}

// Prices are AWS's public list prices, us-east-1, in USD.
type Prices struct {
	StandardPerTransition float64 // Step Functions Standard
	ExpressPerRequest     float64 // Step Functions Express
	ExpressPerGBSecond    float64 // first 1,000 GB-hours; billed in 64 MB and 100 ms steps
	LambdaPerRequest      float64
	LambdaArmPerGBSecond  float64 // first 7.5 billion GB-seconds
	DynamoPerWriteUnit    float64 // on-demand
	DynamoPerReadUnit     float64
	SNSPerPublish         float64 // standard topic, per 64 KB chunk
	KMSPerRequest         float64
	KMSAsymmetric         float64 // Sign, Verify, GetPublicKey on an asymmetric key (not RSA 2048); no free tier
	LogsPerGB             float64 // CloudWatch Logs ingestion, standard class (Lambda's first tier)
	XRayPerTrace          float64 // traces recorded
	EventsPerEvent        float64 // EventBridge custom events put, per 64 KB chunk
	MetricPerMonth        float64 // CloudWatch custom metric (first 10,000), prorated by the hour it exists
	DashboardPerMonth     float64 // CloudWatch dashboard beyond the free three
}

// ListPrices as published on the AWS pricing pages (read from stored copies, November 2026).
var ListPrices = Prices{
	StandardPerTransition: 0.025 / 1000,
	ExpressPerRequest:     1.00 / 1e6,
	ExpressPerGBSecond:    0.00001667,
	LambdaPerRequest:      0.20 / 1e6,
	LambdaArmPerGBSecond:  0.0000133334,
	DynamoPerWriteUnit:    0.625 / 1e6,
	DynamoPerReadUnit:     0.125 / 1e6,
	SNSPerPublish:         0.50 / 1e6,
	KMSPerRequest:         0.03 / 10000,
	KMSAsymmetric:         0.15 / 10000,
	LogsPerGB:             0.50,
	XRayPerTrace:          5.00 / 1e6,
	EventsPerEvent:        1.00 / 1e6,
	MetricPerMonth:        0.30,
	DashboardPerMonth:     3.00,
}

// FreeTier is each monthly free allowance (the ones that never expire).
type FreeTier struct {
	Transitions, LambdaRequests, LambdaGBSeconds, SNSPublishes, KMSRequests, LogsGB, XRayTraces float64
	Metrics, Dashboards                                                                         float64
}

// MonthlyFree are the perpetual free tiers (DynamoDB's is for provisioned capacity, not on-demand).
var MonthlyFree = FreeTier{Transitions: 4000, LambdaRequests: 1e6, LambdaGBSeconds: 400_000,
	SNSPublishes: 1e6, KMSRequests: 20_000, LogsGB: 5, XRayTraces: 100_000, Metrics: 10, Dashboards: 3}

// Assumptions are the inputs the local stack cannot measure.
type Assumptions struct {
	// MemoryMB is every function's memory size (shared/deployment/memory.go: 128, from the measured peak; an infra test keeps them equal).
	MemoryMB float64
	// APILatencyMs is the billed time one AWS API call adds in AWS (kumo answers in microseconds).
	APILatencyMs float64
	// InitMs is a cold start's billed init (provided.al2023 bills it); ColdShare the share of
	// invocations that start cold (1: every one, the worst case at low volume).
	InitMs, ColdShare float64
	// InvokeOverheadMs is Step Functions' own time per Lambda Task, for Express's billed duration.
	InvokeOverheadMs float64
	// PlatformLogBytes are Lambda's own JSON log records per invocation (platform.start, .report).
	PlatformLogBytes float64
	// SNSPublishers are the (principal, topic) pairs publishing: KMS is called twice per pair per 5
	// minutes at most (SNS reuses a data key for up to 5 minutes). notify publishes every message to the
	// JSON, mail and chat topics.
	SNSPublishers float64
	// Traced is the share of executions X-Ray records (default sampling: 1 a second and 5% more).
	Traced float64
}

// DefaultAssumptions are the values the README's tables use.
var DefaultAssumptions = Assumptions{MemoryMB: 128, APILatencyMs: 20, InitMs: 50, ColdShare: 1,
	InvokeOverheadMs: 20, PlatformLogBytes: 600, SNSPublishers: 3, Traced: 1}

// Line is one priced item of a month.
type Line struct {
	Item       string
	Quantity   float64
	Unit       string
	Cost, Free float64 // list cost, and the part of it the free tier covers
}

// Month is the monthly cost of findings executions of shape.
type Month struct {
	Shape    Shape
	Findings float64
	Standard []Line
	// Express replaces the state transitions with Express requests and duration.
	Express []Line
	// ExpressMs and ExpressMB are one Express execution's billed duration and memory.
	ExpressMs, ExpressMB float64
}

// LambdaSeconds is one execution's billed Lambda time, in seconds: handler time plus, per call, the API
// latency and, per cold invocation, the init (and, per cold bot invocation, its GetPublicKey call).
func LambdaSeconds(s Shape, a Assumptions) float64 {
	calls := float64(s.Calls) + float64(s.PlanChecks)*a.ColdShare
	ms := float64(s.HandlerMs) + calls*a.APILatencyMs + float64(s.Invocations)*a.ColdShare*a.InitMs
	return math.Ceil(ms) / 1000
}

// PlanKMSRequests are one execution's asymmetric KMS requests: verify's Sign per action, and a cold bot's
// GetPublicKey.
func PlanKMSRequests(s Shape, a Assumptions) float64 {
	return float64(s.Signs) + float64(s.PlanChecks)*a.ColdShare
}

// Monthly prices findings executions of shape a month.
func Monthly(s Shape, findings float64, p Prices, a Assumptions) Month {
	m := Month{Shape: s, Findings: findings}
	line := func(item string, q float64, unit string, price, free float64) Line {
		return Line{Item: item, Quantity: q, Unit: unit, Cost: q * price, Free: math.Min(q, free) * price}
	}
	gbs := LambdaSeconds(s, a) * a.MemoryMB / 1024 * findings
	logGB := (float64(s.SFNLogBytes) + float64(s.LambdaLogBytes) + float64(s.Invocations)*a.PlatformLogBytes) * findings / 1e9
	publishes := float64(s.Publishes) * findings
	// 2 KMS requests per publish, at most 2 per publisher per 5 minutes (a 30-day month).
	kms := math.Min(2*publishes, 2*a.SNSPublishers*30*24*3600/300)
	common := []Line{
		line("Lambda requests", float64(s.Invocations)*findings, "requests", p.LambdaPerRequest, MonthlyFree.LambdaRequests),
		line(fmt.Sprintf("Lambda arm64 duration (%g MB)", a.MemoryMB), gbs, "GB-s", p.LambdaArmPerGBSecond, MonthlyFree.LambdaGBSeconds),
		line("DynamoDB writes", s.WriteUnits*findings, "WRU", p.DynamoPerWriteUnit, 0),
		line("DynamoDB reads", s.ReadUnits*findings, "RRU", p.DynamoPerReadUnit, 0),
		line("SNS publishes", publishes, "publishes", p.SNSPerPublish, MonthlyFree.SNSPublishes),
		line("KMS (SNS data keys)", kms, "requests", p.KMSPerRequest, MonthlyFree.KMSRequests),
		line("KMS plan signatures (Sign, GetPublicKey)", PlanKMSRequests(s, a)*findings, "requests", p.KMSAsymmetric, 0),
		line("CloudWatch Logs ingestion", logGB, "GB", p.LogsPerGB, MonthlyFree.LogsGB),
		line("X-Ray traces", a.Traced*findings, "traces", p.XRayPerTrace, MonthlyFree.XRayTraces),
		// Every execution puts its outcome on the default bus (the EMF metric lines are in the log bytes).
		line("EventBridge outcome events", findings, "events", p.EventsPerEvent, 0),
	}
	m.Standard = append([]Line{line("Step Functions Standard transitions", float64(s.Transitions)*findings, "transitions",
		p.StandardPerTransition, MonthlyFree.Transitions)}, common...)

	// Express: billed per request and per GB-second, duration rounded up to 100 ms, memory in 64 MB
	// steps (50 MB + the definition + execution data stays under 64 MB here).
	m.ExpressMs = math.Ceil((LambdaSeconds(s, a)*1000+float64(s.Invocations)*a.InvokeOverheadMs)/100) * 100
	m.ExpressMB = 64
	m.Express = append([]Line{
		line("Step Functions Express requests", findings, "requests", p.ExpressPerRequest, 0),
		line("Step Functions Express duration", m.ExpressMs/1000*m.ExpressMB/1024*findings, "GB-s", p.ExpressPerGBSecond, 0),
	}, common...)
	return m
}

// MetricSeries is how many custom metrics (name and dimension values) guardbots can write with bots
// bots (shared/metrics.Emitted): the most a month bills, since a metric is billed only for the hours it
// receives data. None depends on the number of accounts or findings.
func MetricSeries(bots int) int {
	const statuses, outcomes, decisions, reasons = 9, 10, 4, 2
	return bots*statuses + statuses + // Actions by Bot and Status, by Status
		outcomes + decisions + // Findings by Outcome, by Decision
		2 + // TimeToContain, TimeToContainFromArrival
		bots*reasons + 1 + // ApprovalRequests by Bot and Reason, and in all
		bots + 1 // ApprovalWait by Bot, and in all
}

// Fixed are the monthly costs that do not grow with findings: the custom metrics (at most
// MetricSeries) and the dashboard.
func Fixed(bots int, p Prices) []Line {
	line := func(item string, q float64, unit string, price, free float64) Line {
		return Line{Item: item, Quantity: q, Unit: unit, Cost: q * price, Free: math.Min(q, free) * price}
	}
	return []Line{
		line("CloudWatch custom metrics (EMF), at most", float64(MetricSeries(bots)), "metrics", p.MetricPerMonth, MonthlyFree.Metrics),
		line("CloudWatch dashboard", 1, "dashboard", p.DashboardPerMonth, MonthlyFree.Dashboards),
	}
}

// Total sums lines' list cost, and their cost after the free tiers.
func Total(lines []Line) (list, afterFree float64) {
	for _, l := range lines {
		list += l.Cost
		afterFree += l.Cost - l.Free
	}
	return list, afterFree
}

// PerExecution is the list cost of one execution (no free tier).
func PerExecution(lines []Line, findings float64) float64 {
	list, _ := Total(lines)
	return list / findings
}

// PrintMonth writes one month's lines as a table.
func PrintMonth(w io.Writer, m Month) {
	fmt.Fprintf(w, "%s, %s findings a month (%s)\n", m.Shape.Name, count(m.Findings), m.Shape.What)
	for _, kind := range []struct {
		name  string
		lines []Line
	}{{"Standard", m.Standard}, {fmt.Sprintf("Express (%g ms × %g MB billed per execution)", m.ExpressMs, m.ExpressMB), m.Express}} {
		fmt.Fprintf(w, "\n  %s\n", kind.name)
		for _, l := range kind.lines {
			fmt.Fprintf(w, "  %-42s %16s %-11s %10s\n", l.Item, count(l.Quantity), l.Unit, usd(l.Cost))
		}
		list, after := Total(kind.lines)
		fmt.Fprintf(w, "  %-42s %28s %10s   (%s after free tiers; %s an execution)\n", "total", "", usd(list), usd(after),
			usd(PerExecution(kind.lines, m.Findings)))
	}
}

// count formats a quantity: integers with thousands separators, fractions with three significant digits.
func count(q float64) string {
	if q < 1000 && q != math.Trunc(q) {
		return fmt.Sprintf("%.3g", q)
	}
	q = math.Round(q)
	s := fmt.Sprintf("%.0f", q)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// usd formats dollars: cents under $1,000 to the cent, tiny amounts with two significant digits.
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.2g", v)
	case v >= 1000:
		return "$" + count(math.Round(v))
	}
	return fmt.Sprintf("$%.2f", v)
}

// PriceSources names where each list price was read (us-east-1), for the README.
var PriceSources = []struct{ Item, Price, Source string }{
	{"Step Functions Standard", "$0.025 per 1,000 state transitions; 4,000 free a month", "aws.amazon.com/step-functions/pricing (retries are billed transitions)"},
	{"Step Functions Express", "$1.00 per million requests; $0.00001667 per GB-second (first 1,000 GB-hours), 100 ms and 64 MB steps", "aws.amazon.com/step-functions/pricing and its pricing examples"},
	{"Lambda arm64", "$0.20 per million requests; $0.0000133334 per GB-second (first 7.5 billion); 1M requests and 400,000 GB-s free", "aws.amazon.com/lambda/pricing (the Arm rate is rendered client-side there: confirmed from two third-party transcriptions, not the page text)"},
	{"DynamoDB on-demand", "$0.625 per million write units, $0.125 per million read units; no free tier for on-demand", "aws.amazon.com/dynamodb/pricing/on-demand (figures confirmed from third-party transcriptions of the November 2024 price cut)"},
	{"SNS", "$0.50 per million publishes (64 KB each); 1M free; email deliveries $2.00 per 100,000", "aws.amazon.com/sns/pricing (confirmed from third-party transcriptions)"},
	{"KMS", "$0.03 per 10,000 requests, 20,000 free; asymmetric requests (Sign, GetPublicKey on the ECC plan key) $0.15 per 10,000, not in the free tier; $1 a key a month", "aws.amazon.com/kms/pricing (the asymmetric rate, five times the symmetric, confirmed from a third-party transcription); SNS's KMS use: docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"},
	{"CloudWatch Logs", "$0.50 per GB ingested (standard class; Lambda's first tier); 5 GB free", "aws.amazon.com/cloudwatch/pricing (confirmed from third-party transcriptions)"},
	{"X-Ray", "$5.00 per million traces recorded; 100,000 free", "aws.amazon.com/xray/pricing"},
	{"EventBridge", "$1.00 per million custom events put (64 KB each)", "aws.amazon.com/eventbridge/pricing (not re-read for this model: the long-standing rate)"},
	{"CloudWatch metrics and dashboards", "$0.30 per custom metric a month (first 10,000; EMF metrics are custom metrics, their log lines are Logs ingestion), 10 free; $3.00 per dashboard a month, 3 free", "aws.amazon.com/cloudwatch/pricing (the metric rate confirmed from a third-party transcription; the dashboard rate not re-read)"},
}

// Markers of the README's generated cost tables.
const (
	CostBegin = "<!-- cost model: generated by go generate ./...; do not edit -->"
	CostEnd   = "<!-- end of cost model -->"
)

// CostMarkdown renders the README's cost tables from Shapes, ListPrices and DefaultAssumptions.
func CostMarkdown() string {
	var b strings.Builder
	a := DefaultAssumptions
	b.WriteString("Per execution, measured on the local stack (`go run ./statemachine/local cost --measure 20`):\n\n")
	b.WriteString("| shape | state transitions | Lambda invocations | Lambda GB-s (" + fmt.Sprint(a.MemoryMB) + " MB) | AWS API calls | DynamoDB WRU / RRU | SNS publishes | log bytes (Step Functions + Lambda) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, s := range Shapes {
		fmt.Fprintf(&b, "| `%s`: %s | %d | %d | %.4f | %d (%s) | %g / %g | %d | %s + %s |\n", s.Name, s.What, s.Transitions, s.Invocations,
			LambdaSeconds(s, a)*a.MemoryMB/1024, s.Calls, s.CallsBy, s.WriteUnits, s.ReadUnits, s.Publishes,
			kb(float64(s.SFNLogBytes)), kb(float64(s.LambdaLogBytes)+float64(s.Invocations)*a.PlatformLogBytes))
	}

	two, _ := ShapeNamed(ShapeTwo)
	small, large := Monthly(two, 10_000, ListPrices, a), Monthly(two, 1_000_000, ListPrices, a)
	fmt.Fprintf(&b, "\nA month of `%s` remediations on Standard, list prices (free tiers in the last rows):\n\n", two.Name)
	b.WriteString("| item | 10,000 findings | 1,000,000 findings |\n|---|---|---|\n")
	for i, l := range small.Standard {
		L := large.Standard[i]
		fmt.Fprintf(&b, "| %s | %s (%s %s) | %s (%s %s) |\n", l.Item, usd(l.Cost), count(l.Quantity), l.Unit, usd(L.Cost), count(L.Quantity), L.Unit)
	}
	sl, sf := Total(small.Standard)
	ll, lf := Total(large.Standard)
	fmt.Fprintf(&b, "| **total, list** | **%s** | **%s** |\n| total after the free tiers | %s | %s |\n", usd(sl), usd(ll), usd(sf), usd(lf))

	b.WriteString("\nEvery shape, Standard against Express (list prices, free tiers not taken off):\n\n")
	b.WriteString("| shape | Standard, an execution | Express, an execution | 10,000 a month: Standard / Express | 1,000,000 a month: Standard / Express |\n|---|---|---|---|---|\n")
	for _, s := range Shapes {
		m1, m2 := Monthly(s, 10_000, ListPrices, a), Monthly(s, 1_000_000, ListPrices, a)
		s1, _ := Total(m1.Standard)
		e1, _ := Total(m1.Express)
		s2, _ := Total(m2.Standard)
		e2, _ := Total(m2.Express)
		fmt.Fprintf(&b, "| `%s` | $%.6f | $%.6f | %s / %s | %s / %s |\n", s.Name, PerExecution(m1.Standard, 1e4),
			PerExecution(m1.Express, 1e4), usd(s1), usd(e1), usd(s2), usd(e2))
	}
	fmt.Fprintf(&b, "\nAssumptions (`cost` flags): memory %g MB on every function (`--memory`; shared/deployment/memory.go), %g ms billed per AWS API call "+
		"(`--api-ms`; kumo answers in µs, so this is not measured), every invocation cold with a %g ms init (`--init-ms`, `--cold`; the "+
		"local cold start is 2–5 ms on a full amd64 core, and a 128 MB function gets about a fourteenth of a vCPU; a cold bot also reads the plan key's public half once), %g bytes of Lambda platform log records per invocation, every execution traced by X-Ray, "+
		"notify publishing each message to the JSON, mail and chat topics (%g principal-topic pairs for SNS's data keys; email deliveries, $2.00 per 100,000, not included); "+
		"Express: %g ms Step Functions overhead per Task, %g MB billed.\n",
		a.MemoryMB, a.APILatencyMs, a.InitMs, a.PlatformLogBytes, a.SNSPublishers, a.InvokeOverheadMs, large.ExpressMB)

	fixed := Fixed(len(bots.Names()), ListPrices)
	b.WriteString("\nFixed a month, whatever the volume (the outcome metrics and the dashboard; alarms, keys and log storage not included):\n\n| item | quantity | list | after the free tier |\n|---|---|---|---|\n")
	for _, l := range fixed {
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s |\n", l.Item, count(l.Quantity), l.Unit, usd(l.Cost), usd(l.Cost-l.Free))
	}
	b.WriteString("\nPrices (us-east-1, public list prices, read November 2026):\n\n| service | price used | source |\n|---|---|---|\n")
	for _, p := range PriceSources {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", p.Item, p.Price, p.Source)
	}
	return b.String()
}

func kb(n float64) string { return fmt.Sprintf("%.0f KB", math.Round(n/1000)) }
