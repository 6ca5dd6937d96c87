package demo

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sivchari/kumo"
)

// slowWrites makes every write to the server return 20 ms late: time for kumo (in this process) to
// answer, and for the SDK to close the request body, before net/http's writer is done with it — the
// interleaving a loaded machine produces now and then.
func slowWrites(tr *http.Transport) {
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		return slowConn{c}, err
	}
}

type slowConn struct{ net.Conn }

func (c slowConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(20 * time.Millisecond)
	return n, err
}

// receiveAll sends n notifications through kumo's SQS with client and receives each back, counting
// the requests net/http failed to write (and so closed the connection under the response) and the
// messages the receives missed.
func receiveAll(t *testing.T, srv *kumo.Server, client aws.HTTPClient, name string, n int) (writeErrors, missed int) {
	t.Helper()
	cfg := Config(srv.URL)
	cfg.HTTPClient = client
	c := sqs.NewFromConfig(cfg)
	q, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{WroteRequest: func(w httptrace.WroteRequestInfo) {
		if w.Err != nil {
			writeErrors++
		}
	}})
	for range n {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("notification")}); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 1 {
			missed++
			continue
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	return writeErrors, missed
}

// The stack's own clients send request bodies from memory: with the SDK's body wrapper, closed as soon as
// the response headers arrive, net/http's writer could fail its last read of the body when kumo answered
// first, closing the connection under the response; the SDK then retried, and a retried ReceiveMessage
// lost the notification the first one had taken (invisible for 30 s). The same interleaving, forced with
// slow writes: the SDK's own client fails to write requests, the stack's never does and misses nothing.
func TestConfig_RequestBodiesSurviveAnEarlyAnswer(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	rawErrors, rawMissed := receiveAll(t, srv, awshttp.NewBuildableClient().WithTransportOptions(slowWrites), "inbox-sdk", 10)
	t.Logf("the SDK's own client: %d of 30 requests not written, %d of 10 notifications missed", rawErrors, rawMissed)
	if rawErrors == 0 {
		t.Fatal("the SDK's own client wrote every request: the test no longer forces the race it guards against")
	}
	writeErrors, missed := receiveAll(t, srv, httpClient(slowWrites), "inbox-stack", 10)
	if writeErrors != 0 || missed != 0 {
		t.Errorf("the stack's client failed to write %d requests and missed %d of 10 notifications", writeErrors, missed)
	}
}
