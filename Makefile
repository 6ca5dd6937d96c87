# guardbots — make targets. `make test` and (later) `make demo` install what they need themselves.
SHELL := /bin/bash
GO    ?= go
export CGO_ENABLED ?= 0

# npm tools (Node 22, CDK CLI, asl-validator, aws-local-stepfunctions) live in .tools/ with a committed
# lock file; their bin folder goes first on PATH so `node` is Node 22, whatever the machine has.
TOOLS     := .tools/node_modules
TOOLS_OK  := $(TOOLS)/.installed
export PATH := $(CURDIR)/$(TOOLS)/.bin:$(PATH)
export JSII_NODE := $(CURDIR)/$(TOOLS)/.bin/node
export CDK_DISABLE_CLI_TELEMETRY := true

# Every Lambda is a directory with a main.go under functions/ (bots under functions/bots/<bot>/).
FUNCTIONS := $(patsubst %/main.go,%,$(shell find functions -name main.go | sort))
BUILD     := build

.PHONY: all build test lint vet fmt-check explain bots bench fuzz clean tools synth deploy demo replay

all: build

## build: every Lambda as build/<function>/bootstrap for provided.al2023 on arm64
build:
	@rm -rf $(BUILD)/.bin
	@GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	  -o $(BUILD)/.bin/ $(addprefix ./,$(FUNCTIONS))
	@# one go build links every function in parallel; each then becomes build/<function>/bootstrap
	@for dir in $(FUNCTIONS); do \
	  name=$$(basename $$dir); mkdir -p $(BUILD)/$$name && mv $(BUILD)/.bin/$$name $(BUILD)/$$name/bootstrap || exit 1; \
	done; rm -rf $(BUILD)/.bin
	@echo "built $(words $(FUNCTIONS)) Lambda bootstraps under $(BUILD)/"

## test: vet, formatting, and every test (fuzz seeds included)
test: lint tools
	$(GO) test -count=1 ./...

## lint: gofmt and go vet
lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## explain: parse → transform → match one event, no AWS. make explain EVENT=file [MAPPING=file] [ORG=file]
explain:
	@test -n "$(EVENT)" || { echo "usage: make explain EVENT=path/to/event.json [MAPPING=mapping.json] [ORG=organization.json]"; exit 2; }
	$(GO) run ./statemachine/local explain --event "$(EVENT)" $(if $(MAPPING),--mapping "$(MAPPING)") $(if $(ORG),--org "$(ORG)")

## bots: the bot registry as a table
bots:
	@$(GO) run ./statemachine/local bots

## demo: the workflow end to end on this machine (kumo, real bootstraps, the committed ASL) on the demo
## findings; exits non-zero if an expected outcome did not happen. EVENT=file runs one finding of yours,
## DRYRUN=1 shows what would be done, ALLOW_SAMPLES=1 lets GuardDuty sample findings through.
DEMO_FLAGS = $(if $(EVENT),--event "$(EVENT)") $(if $(DRYRUN),--dry-run) $(if $(ALLOW_SAMPLES),--allow-samples)
demo: tools
	@$(GO) build -o $(BUILD)/local ./statemachine/local
	@$(BUILD)/local demo $(DEMO_FLAGS)

## replay: one event through the local stack. make replay EVENT=file [DRYRUN=1] [ALLOW_SAMPLES=1]
replay: tools
	@test -n "$(EVENT)" || { echo "usage: make replay EVENT=path/to/event.json [DRYRUN=1] [ALLOW_SAMPLES=1]"; exit 2; }
	@$(GO) build -o $(BUILD)/local ./statemachine/local
	@$(BUILD)/local replay $(DEMO_FLAGS)

## bench: parse → transform → match per finding (10 counts, benchstat), then `perf`: every bootstrap's cold
## start (median of 20), warm latency and peak RSS after 1…10,000 calls, zipped artifact size, every bot warm
## on the local stack, 50 end-to-end remediations split by state, and a soak: 10,000 findings through the
## local workflow at 8 in flight, which fails unless each was handled exactly once (notification, audit
## records, instance state) and every process's descriptors and memory stayed flat (--soak).
## PERF_ARGS replaces perf's arguments, e.g. PERF_ARGS="--starts 5" for a quick look.
BENCH_COUNT ?= 10
PERF_ARGS   ?= --cpu-share --starts 20 --invocations 10000 --bots 100 --e2e 50 --throughput 10000 --concurrency 8 --soak
bench: tools build
	@mkdir -p $(BUILD)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./shared/... | tee $(BUILD)/bench.txt
	@echo; echo "benchstat (median and 95% confidence interval of $(BENCH_COUNT) runs; raw runs in $(BUILD)/bench.txt):"
	@$(GO) tool benchstat $(BUILD)/bench.txt
	$(GO) run ./statemachine/local perf $(PERF_ARGS)

## fuzz: each fuzz target for FUZZTIME (default 5m: the hardening goal); failing inputs land in testdata/fuzz
FUZZTIME ?= 5m
fuzz:
	@for target in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' shared | sed 's/func //'); do \
	  pkg=$$(dirname $$(grep -rlE "^func $$target\(" --include='*_test.go' shared | head -1)); \
	  echo "fuzz $$target in ./$$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) ./$$pkg || exit 1; \
	done

## tools: install the npm tools from the lock file (once; again when the lock file changes)
tools: $(TOOLS_OK)

$(TOOLS_OK): .tools/package.json .tools/package-lock.json
	cd .tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## synth: every CloudFormation template into cdk.out/ with cdk.json's context (offline; no AWS credentials
## needed); cdk.json's app command builds the Lambdas first
synth: tools
	cdk synth --quiet --no-notices $(CDK_ARGS)
	@ls -1 cdk.out/*.template.json

## deploy: cdk deploy to real accounts (credentials needed). STACKS="guardbots-orchestrator …" (default
## all), context with CDK_ARGS="-c externalId=… -c orchestratorAccount=…"; see infra/README.md
deploy: tools
	cdk deploy $(or $(STACKS),--all) --no-notices --require-approval broadening $(CDK_ARGS)

clean:
	rm -rf $(BUILD) cdk.out
