package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/notify"
)

// The orchestrator's dashboard (issue 17 §4): executions and outcomes over time, time to contain, actions
// by bot, held and failed actions, approval requests and how long approved actions waited. Every guardbots metric it names is one the code
// emits (shared/metrics.Emitted, or a rail's metric filter): the infra tests hold it to that.

// DashboardName is the dashboard's name in the CloudWatch console.
const DashboardName = "guardbots"

func emf(name string, dims map[string]string, stat string) awscloudwatch.Metric {
	var d *map[string]*string
	if len(dims) > 0 {
		m := map[string]*string{}
		for k, v := range dims {
			m[k] = jsii.String(v)
		}
		d = &m
	}
	label := name
	for _, v := range dims {
		label += " " + v
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name), DimensionsMap: d,
		Statistic: jsii.String(stat), Period: awscdk.Duration_Minutes(jsii.Number(5)), Label: jsii.String(label),
	})
}

// newDashboard builds the dashboard and the alarms on what a person must act on.
func newDashboard(stack awscdk.Stack, sm awsstepfunctions.StateMachine, alerts notifications) awscloudwatch.Dashboard {
	var outcomes, decisions []awscloudwatch.IMetric
	for _, o := range notify.Outcomes {
		outcomes = append(outcomes, emf(metrics.Findings, map[string]string{metrics.DimOutcome: o}, "Sum"))
	}
	for _, d := range notify.Decisions {
		decisions = append(decisions, emf(metrics.Findings, map[string]string{metrics.DimDecision: d}, "Sum"))
	}
	var byBot []awscloudwatch.IMetric
	for _, b := range bots.Names() {
		byBot = append(byBot, emf(metrics.Actions, map[string]string{metrics.DimBot: b, metrics.DimStatus: string(bots.StatusRemediated)}, "Sum"))
	}
	failed := emf(metrics.Actions, map[string]string{metrics.DimStatus: string(bots.StatusFailed)}, "Sum")
	held := emf(metrics.Actions, map[string]string{metrics.DimStatus: "held"}, "Sum")
	// Durations (time to contain, approval waits) as percentiles over an hour: a few samples an hour.
	hourly := func(name, stat string) awscloudwatch.IMetric {
		m := emf(name, nil, stat)
		return m.With(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Hours(jsii.Number(1)), Label: jsii.String(name + " " + stat)})
	}
	graph := func(title string, width float64, left []awscloudwatch.IMetric, right []awscloudwatch.IMetric, stacked bool) awscloudwatch.IWidget {
		p := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: &left, Stacked: jsii.Bool(stacked)}
		if len(right) > 0 {
			p.Right = &right
		}
		return awscloudwatch.NewGraphWidget(p)
	}
	d := awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(DashboardName),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(7)),
	})
	d.AddWidgets(
		graph("Executions", 12, []awscloudwatch.IMetric{sm.MetricStarted(nil), sm.MetricSucceeded(nil), sm.MetricFailed(nil), sm.MetricTimedOut(nil)}, nil, false),
		graph("Outcomes", 12, outcomes, nil, true),
	)
	d.AddWidgets(
		graph("Time to contain (seconds): from the finding's updatedAt and from the event's arrival", 12,
			[]awscloudwatch.IMetric{hourly(metrics.TimeToContain, "p50"), hourly(metrics.TimeToContain, "p90")},
			[]awscloudwatch.IMetric{hourly(metrics.TimeToContainFromArrival, "p50"), hourly(metrics.TimeToContainFromArrival, "p90")}, false),
		graph("Findings by decision", 12, decisions, nil, true),
	)
	d.AddWidgets(
		graph("Containment actions by bot", 12, byBot, nil, true),
		graph("Held and failed actions", 12,
			[]awscloudwatch.IMetric{held, failed, emf(railMetric("BlastRadiusHeld"), nil, "Sum")}, nil, false),
	)
	// How often a person is asked, and how long approved actions waited for them (request to approval,
	// by Step Functions' clock): a growing wait is containment that waits on people.
	d.AddWidgets(
		graph("Approval requests", 12, []awscloudwatch.IMetric{emf(metrics.ApprovalRequests, nil, "Sum")}, nil, false),
		graph("Approval wait (seconds): request to approval of approved actions", 12,
			[]awscloudwatch.IMetric{hourly(metrics.ApprovalWait, "p50"), hourly(metrics.ApprovalWait, "p90"), hourly(metrics.ApprovalWait, "Maximum")}, nil, false),
	)

	// A failed action is a finding left uncontained: someone must look (the execution-failed alarm says
	// so per execution; this one per action, across executions).
	// Without a label: a labelled metric makes CloudFormation's alarm a metric-math one.
	failedMetric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(metrics.Actions),
		DimensionsMap: &map[string]*string{metrics.DimStatus: jsii.String(string(bots.StatusFailed))},
		Statistic:     jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(5)),
	})
	alerts.alarm(failedMetric.CreateAlarm(stack, jsii.String("ActionsFailedAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: a bot action failed; its finding may not be contained (see the notification, or the dashboard " + DashboardName + ")"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	return d
}

// railMetric is a rail event's metric name (rails.go), so a typo fails synth rather than showing an
// empty graph.
func railMetric(name string) string {
	for _, e := range railEvents {
		if e.Metric == name {
			return name
		}
	}
	panic("no rail metric " + name)
}
