package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// notifications are the security team's topics: notify's messages and every alarm go to each. Topic
// carries each message as JSON for tools and filtered team routes; Mail carries the same message as
// plain text for email subscriptions (the notificationEmail context key subscribes there), with the same
// message attributes, so a filter policy routes mail as it routes JSON; Chat carries it as a custom
// notification of Amazon Q Developer in chat applications, for the channel configurations (chat.go).
type notifications struct {
	Topic awssns.Topic
	Mail  awssns.Topic
	Chat  awssns.Topic
	Key   awskms.Key
}

// Arns are the topics' ARNs, for a publisher's grant.
func (n notifications) Arns() []string {
	return []string{*n.Topic.TopicArn(), *n.Mail.TopicArn(), *n.Chat.TopicArn()}
}

// alarm sends alarm's state changes to every topic: CloudWatch writes its own readable mail, and Amazon
// Q Developer in chat applications renders CloudWatch alarms itself.
func (n notifications) alarm(a awscloudwatch.Alarm) {
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(n.Topic), awscloudwatchactions.NewSnsAction(n.Mail), awscloudwatchactions.NewSnsAction(n.Chat))
}

// newNotifications creates the topic, encrypted with a customer-managed key (the AWS-managed SNS key
// cannot be used by CloudWatch alarms, whose service principal needs a key-policy grant).
func newNotifications(scope constructs.Construct, id, email string) notifications {
	c := constructs.NewConstruct(scope, jsii.String(id))
	key := awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("guardbots notifications topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	// Key policy (exempt from the no-wildcard-action rule: it is a resource policy, and
	// kms:GenerateDataKey* is what AWS documents for CloudWatch alarms on encrypted topics).
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	topic := newTopic(c, "Topic", "guardbots", key)
	mail := newTopic(c, "Mail", "guardbots mail", key)
	chat := newTopic(c, "Chat", "guardbots chat", key)
	if email != "" {
		mail.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return notifications{Topic: topic, Mail: mail, Chat: chat, Key: key}
}

// newTopic is a TLS-only topic encrypted with key, which CloudWatch alarms of this account may publish to.
func newTopic(scope constructs.Construct, id, name string, key awskms.Key) awssns.Topic {
	topic := awssns.NewTopic(scope, jsii.String(id), &awssns.TopicProps{
		DisplayName: jsii.String(name),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true), // a Deny on aws:SecureTransport false
	})
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}))
	return topic
}
