// Command broker is the crash-restart harness's Kafka: a kfake cluster
// on a fixed loopback port, in a process of its own so that it keeps its
// log and its groups' commits while the jobs it serves are killed.
//
//	broker -port 39092 -control 127.0.0.1:39093 -topic sequence -partitions 12 -data run/broker-data
//
// It prints "ready" on stdout once it listens, and stops on SIGINT or
// SIGTERM. With -data it keeps its log, topics and groups (kfake's
// DataDir) in that directory and reloads them when it starts again, so
// the driver can SIGKILL it and bring it back on the same port as a
// restarted broker: what it wrote before the kill is in the page cache,
// which a SIGKILL does not lose. The control address serves fault injection over HTTP, through
// kfake's control hooks (Cluster.ControlKey):
//
//	POST /fault?request=fetch&percent=30&for=3s
//	POST /fault?request=offsetcommit&percent=50&for=2s
//	POST /fault?request=endtxn&percent=50&for=2s
//
// fails that share of the named requests for that long, the way a broker
// in trouble fails them: a failed fetch closes the connection it came on
// (the client reconnects and fetches again); a failed OffsetCommit
// either closes its connection too, or answers every partition with
// COORDINATOR_LOAD_IN_PROGRESS (a coordinator that just moved), both of
// which the job must ride out without failing its batch. The transaction's
// requests of the Kafka sink, addoffsetstotxn, txnoffsetcommit and endtxn
// (commits only; aborts pass), are answered TRANSACTION_ABORTABLE without
// acting on them: the batch's transaction is aborted. GET /faults
// says how many requests each fault failed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	port := flag.Int("port", 39092, "loopback port the broker listens on")
	control := flag.String("control", "127.0.0.1:39093", "loopback address of the fault-injection endpoint")
	topic := flag.String("topic", "sequence", "topic to create")
	partitions := flag.Int("partitions", 12, "partitions of the topic")
	data := flag.String("data", "", "directory to persist the cluster in, and reload it from (kfake.DataDir)")
	output := flag.String("output", "", "a second topic with as many partitions, for the Kafka sink's output")
	table := flag.String("table", "", "a topic of one partition, for the job's lookup table")
	flag.Parse()

	// Short session timeouts let the group expire a killed replica in a
	// second or two; kfake's default minimum is 6s.
	topics := []string{*topic}
	if *output != "" {
		topics = append(topics, *output)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.SeedTopics(int32(*partitions), topics...),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if *table != "" {
		opts = append(opts, kfake.SeedTopics(1, *table))
	}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
	defer c.Close()

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker: control endpoint:", err)
		os.Exit(1)
	}
	f := &faults{c: c}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

// faults injects failures into the cluster's requests and counts them.
type faults struct {
	c                                *kfake.Cluster
	fetches, offsetCommit            atomic.Int64
	addOffsets, txnOffsetCommit, end atomic.Int64

	// An EndTxn held (see holdEndTxn): held is set while it waits for
	// release, which says whether the broker then commits it.
	mu      sync.Mutex
	held    bool
	release chan bool
}

// holdEndTxn holds the next committing EndTxn: the producer's offsets are
// in the transaction (TxnOffsetCommit answered) and it asked to commit,
// but has no answer yet. The driver kills the job in that moment, then
// releases the request, to be committed as if it had reached the broker
// just before the kill, or dropped (its connection closed) as if it never
// had, when the next instance's InitProducerID aborts the transaction.
func (f *faults) holdEndTxn() {
	f.mu.Lock()
	f.release = make(chan bool, 1)
	release := f.release
	f.mu.Unlock()
	f.c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !req.(*kmsg.EndTxnRequest).Commit {
			f.c.KeepControl()
			return nil, nil, false
		}
		f.c.DropControl()
		f.mu.Lock()
		f.held = true
		f.mu.Unlock()
		log.Printf("holding a committing EndTxn")
		var commit bool
		f.c.SleepControl(func() { commit = <-release })
		f.mu.Lock()
		f.held = false
		f.mu.Unlock()
		f.end.Add(1)
		log.Printf("released the EndTxn: commit %v", commit)
		if commit {
			return nil, nil, false // the cluster commits it as usual
		}
		return nil, errors.New("injected: the EndTxn never arrived"), true
	})
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/faults" && r.Method == http.MethodGet:
		fmt.Fprintf(w, "fetch %d\noffsetcommit %d\n", f.fetches.Load(), f.offsetCommit.Load())
		for name, n := range map[string]*atomic.Int64{"addoffsetstotxn": &f.addOffsets, "txnoffsetcommit": &f.txnOffsetCommit, "endtxn": &f.end} {
			if c := n.Load(); c > 0 {
				fmt.Fprintf(w, "%s %d\n", name, c)
			}
		}
	case r.URL.Path == "/hold-endtxn" && r.Method == http.MethodPost:
		f.holdEndTxn()
		fmt.Fprintln(w, "ok")
	case r.URL.Path == "/held" && r.Method == http.MethodGet:
		f.mu.Lock()
		fmt.Fprintln(w, f.held)
		f.mu.Unlock()
	case r.URL.Path == "/release" && r.Method == http.MethodPost:
		f.mu.Lock()
		if f.release != nil {
			f.release <- r.URL.Query().Get("commit") == "true"
			f.release = nil
		}
		f.mu.Unlock()
		fmt.Fprintln(w, "ok")
	case r.URL.Path == "/fault" && r.Method == http.MethodPost:
		q := r.URL.Query()
		percent, err := strconv.Atoi(q.Get("percent"))
		if err == nil && (percent < 0 || percent > 100) {
			err = errors.New("not between 0 and 100")
		}
		if err != nil {
			http.Error(w, "percent: "+err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(q.Get("for"))
		if err != nil {
			http.Error(w, "for: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := f.inject(q.Get("request"), percent, time.Now().Add(d)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	default:
		http.NotFound(w, r)
	}
}

// inject fails percent of the named requests until the deadline. The
// control function stays installed (KeepControl) while it fails
// requests, and drops itself at the first request after the deadline.
func (f *faults) inject(request string, percent int, until time.Time) error {
	var (
		key  kmsg.Key
		fail func(kmsg.Request) (kmsg.Response, error)
		n    *atomic.Int64
	)
	switch request {
	case "fetch":
		key, n = kmsg.Fetch, &f.fetches
		fail = func(kmsg.Request) (kmsg.Response, error) {
			return nil, errors.New("injected fetch failure")
		}
	case "offsetcommit":
		key, n = kmsg.OffsetCommit, &f.offsetCommit
		fail = func(req kmsg.Request) (kmsg.Response, error) {
			if rand.IntN(2) == 0 {
				return nil, errors.New("injected offset commit failure")
			}
			return commitFailed(req.(*kmsg.OffsetCommitRequest)), nil
		}
	case "addoffsetstotxn":
		key, n = kmsg.AddOffsetsToTxn, &f.addOffsets
		fail = func(req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
			resp.Version, resp.ErrorCode = req.GetVersion(), kerr.TransactionAbortable.Code
			return resp, nil
		}
	case "txnoffsetcommit":
		key, n = kmsg.TxnOffsetCommit, &f.txnOffsetCommit
		fail = func(req kmsg.Request) (kmsg.Response, error) {
			return txnCommitFailed(req.(*kmsg.TxnOffsetCommitRequest)), nil
		}
	case "endtxn":
		key, n = kmsg.EndTxn, &f.end
		fail = func(req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.EndTxnResponse)
			resp.Version, resp.ErrorCode = req.GetVersion(), kerr.TransactionAbortable.Code
			return resp, nil
		}
	default:
		return fmt.Errorf("request %q is not fetch, offsetcommit, addoffsetstotxn, txnoffsetcommit or endtxn", request)
	}
	log.Printf("failing %d%% of %s requests until %s", percent, request, until.Format(time.RFC3339Nano))
	f.c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if time.Now().After(until) {
			f.c.DropControl()
			return nil, nil, false
		}
		f.c.KeepControl()
		if rand.IntN(100) >= percent {
			return nil, nil, false // the cluster answers as usual
		}
		if end, ok := req.(*kmsg.EndTxnRequest); ok && !end.Commit {
			return nil, nil, false // aborts pass: they are how a failed batch recovers
		}
		n.Add(1)
		resp, err := fail(req)
		return resp, err, true
	})
	return nil
}

// commitFailed answers every partition of req with
// COORDINATOR_LOAD_IN_PROGRESS, which says try again.
func commitFailed(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID // v10 names topics by id
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// txnCommitFailed answers every partition of req with
// TRANSACTION_ABORTABLE.
func txnCommitFailed(req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.TransactionAbortable.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
