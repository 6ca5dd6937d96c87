package steps

import (
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/deployment"
)

// ParseLambda is the parse step's Lambda handler.
func ParseLambda() lambda.Handler { SetupLogging(); return Raw(deployment.StepParse, Parse) }

// TransformLambda is the transform step's Lambda handler.
func TransformLambda() lambda.Handler {
	SetupLogging()
	return Lambda(deployment.StepTransform, Transform)
}

// Must stops the process when a handler cannot be built: a Lambda that cannot read its configuration
// must fail its init (visible as an init error), not run half-configured.
func Must(h lambda.Handler, err error) lambda.Handler {
	if err != nil {
		SetupLogging()
		slog.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	return h
}

var logOnce sync.Once

// SetupLogging makes slog write JSON lines, which CloudWatch Logs Insights parses.
func SetupLogging() {
	logOnce.Do(func() {
		slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	})
}

// PerRegion builds one client per region on first use (the finding's region picks it).
func PerRegion[C any](build func(region string) C) func(region string) C {
	var mu sync.Mutex
	clients := map[string]C{}
	return func(region string) C {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = build(region)
			clients[region] = c
		}
		return c
	}
}
