package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file owns the brokers' health. A broker outage (the broker
// restarting, a network partition, requests failing for a while) does not
// end a job: franz-go retries fetches,
// metadata and the group's session in the background, and the engine
// retries its own commits. The engine watches every request its clients
// make (a kgo hook) and every error the group's session reports, and:
//
//   - at the first failure logs one warning and sets KafkaHealth's
//     FailingSince and LastError (Snapshot, /readyz);
//   - once requests have succeeded again for recoverQuiet with no failure,
//     logs one "recovered" line with how long it lasted and clears them;
//   - fails the job with an *OutageError once requests have been failing
//     for longer than OutageLimit (kafka.outageLimit) without recovering.
//
// Batches go on while it lasts: cut from what was fetched, and empty
// when nothing was.

// recoverQuiet is how long requests must succeed without a failure before
// an outage counts as over: with a share of requests failing, the job
// would otherwise log a warning and a recovery for every failed one.
const recoverQuiet = 2 * time.Second

// OutageError is the brokers failing the job's requests for longer than
// OutageLimit: the job gives up rather than wait for ever without a word
// to its orchestrator.
type OutageError struct {
	Group string
	// Partitions are the partitions the job owned when the outage began.
	Partitions []TopicPartition
	// Since is when requests started failing, For how long they had been
	// failing when the job gave up, Limit the OutageLimit.
	Since      time.Time
	For, Limit time.Duration
	// First is the first failure, Last the latest, each naming the
	// request, the broker and the group or partitions it was for.
	First, Last string
}

func (e *OutageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Kafka requests failed for %s (since %s), longer than the outage limit %s (kafka.outageLimit)",
		e.For.Round(time.Millisecond), e.Since.UTC().Format(time.RFC3339), e.Limit)
	if e.Group != "" {
		fmt.Fprintf(&b, "; group %q", e.Group)
	}
	if len(e.Partitions) > 0 {
		b.WriteString(", owning " + partitionList(e.Partitions))
	}
	fmt.Fprintf(&b, "; first failure: %s; last: %s", e.First, e.Last)
	return b.String()
}

// partitionList names partitions by topic: "topic a partitions 0, 1 and
// topic b partition 3".
func partitionList(tps []TopicPartition) string {
	tps = slices.SortedFunc(slices.Values(tps), compareTP)
	var parts []string
	for i := 0; i < len(tps); {
		j := i
		var nums []string
		for ; j < len(tps) && tps[j].Topic == tps[i].Topic; j++ {
			nums = append(nums, strconv.Itoa(int(tps[j].Partition)))
		}
		word := "partition "
		if len(nums) > 1 {
			word = "partitions "
		}
		parts = append(parts, "topic "+tps[i].Topic+" "+word+strings.Join(nums, ", "))
		i = j
	}
	return joinAnd(parts)
}

// brokerHealth tracks whether the brokers answer the engine's requests:
// KafkaHealth for Snapshot and /readyz, the running outage, and
// OutageLimit. Consumers, the Kafka offset store and the request hook
// report to it.
type brokerHealth struct {
	group, instanceID string
	session           time.Duration // the group session timeout; 0: kgo's (45s)
	limit             time.Duration // OutageLimit, 0 for none
	log               func() *slog.Logger
	// stopping: failed requests are the clients closing.
	stopping *atomic.Bool
	// owned are the partitions the job's consumers own now.
	owned func() []TopicPartition

	mu     sync.Mutex
	health KafkaHealth
	outage outageState
}

// outageState is the account of a running outage, beside health, which
// holds its public half.
type outageState struct {
	first       string
	lastFailure time.Time
	lastSuccess time.Time
	// answered is the first success after the latest failure: when the
	// outage ended, if none fails before recoverQuiet.
	answered time.Time
	owned    []TopicPartition
}

func (b *brokerHealth) snapshot() KafkaHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// failed records a failed request to the brokers: what names the request
// and what it was for. The first failure of an outage is logged at WARN;
// the rest only update LastError.
func (b *brokerHealth) failed(what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) || b.stopping.Load() {
		return
	}
	owned := b.owned()
	now := time.Now()
	msg := what + ": " + err.Error()
	b.mu.Lock()
	first := b.health.FailingSince.IsZero()
	if first {
		b.health.FailingSince = now
		b.outage = outageState{first: msg, owned: owned, lastSuccess: b.outage.lastSuccess}
	} else if len(b.outage.owned) == 0 {
		b.outage.owned = owned
	}
	b.health.LastError = msg
	b.outage.lastFailure = now
	// Brokers failing from the start are most often an address that is
	// wrong, or not up yet.
	neverAnswered := b.outage.lastSuccess.IsZero()
	b.mu.Unlock()
	if !first {
		return
	}
	if neverAnswered && !unreachable(err) {
		// Brokers that never answered, failing otherwise than by
		// refusing or not answering (a host name that does not
		// resolve, rejected credentials), fail the start (ping) with
		// their own line: a line that says "retrying" would contradict it.
		return
	}
	args := []any{"request", what, "err", err.Error()}
	if b.group != "" {
		args = append(args, "group", b.group)
	}
	if len(owned) > 0 {
		args = append(args, "partitions", partitionList(owned))
	}
	if b.limit > 0 {
		args = append(args, "outage_limit", b.limit.String())
	}
	msg = "Kafka requests are failing; retrying until they succeed"
	if neverAnswered {
		msg = "cannot reach the brokers; retrying quietly until they answer"
	}
	b.log().Warn(msg, args...)
}

// succeeded records a request the brokers answered, and ends the outage
// once none failed for recoverQuiet.
func (b *brokerHealth) succeeded() {
	now := time.Now()
	b.mu.Lock()
	if !b.outage.lastSuccess.After(b.outage.lastFailure) {
		b.outage.answered = now
	}
	b.outage.lastSuccess = now
	b.mu.Unlock()
	b.checkRecovered()
}

// checkRecovered ends a running outage whose requests have succeeded, with
// no failure, for recoverQuiet, and logs it once.
func (b *brokerHealth) checkRecovered() {
	now := time.Now()
	b.mu.Lock()
	h, o := b.health, b.outage
	over := !h.FailingSince.IsZero() && o.lastSuccess.After(o.lastFailure) && now.Sub(o.lastFailure) >= recoverQuiet
	if over {
		b.health.FailingSince, b.health.LastError = time.Time{}, ""
		b.outage = outageState{lastSuccess: o.lastSuccess}
	}
	b.mu.Unlock()
	if over {
		args := []any{"lasted", o.answered.Sub(h.FailingSince).Round(time.Millisecond).String(), "last_error", h.LastError}
		if b.group != "" {
			args = append(args, "group", b.group)
		}
		b.log().Info("Kafka requests succeed again", args...)
	}
}

// over is the OutageError once requests have failed for longer than
// OutageLimit, nil before (and always with no limit).
func (b *brokerHealth) over() error {
	b.checkRecovered()
	if b.limit <= 0 {
		return nil
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.health
	if h.FailingSince.IsZero() || now.Sub(h.FailingSince) <= b.limit {
		return nil
	}
	return &OutageError{
		Group: b.group, Partitions: b.outage.owned, Since: h.FailingSince, For: now.Sub(h.FailingSince),
		Limit: b.limit, First: b.outage.first, Last: h.LastError,
	}
}

// setWaiting records whether the group member owns nothing while in its
// group, and logs the start of each wait once. During an outage the
// member's partitions are gone because its session is: that is the
// outage, not a wait.
func (b *brokerHealth) setWaiting(waiting bool, member string) {
	b.mu.Lock()
	waiting = waiting && b.health.FailingSince.IsZero()
	was := b.health.WaitingForPartitions
	b.health.WaitingForPartitions = waiting
	b.mu.Unlock()
	if waiting && !was {
		args := []any{"group", b.group}
		if member != "" {
			args = append(args, "member_id", member)
		}
		if b.instanceID != "" {
			args = append(args, "instance_id", b.instanceID)
		}
		session := b.session
		if session == 0 {
			session = 45 * time.Second
		}
		// After a crash, the wait is the dead member's session: say
		// so, or the restart looks stuck.
		why := "joining, a rebalance, more members than partitions, or a member that stopped without leaving the group (killed) holding them until its session times out (kafka.sessionTimeout)"
		if b.instanceID == "" {
			why += "; a replica with a static kafka.instanceId takes its own back at once when it restarts"
		}
		args = append(args, "session_timeout", session.String())
		b.log().Info("waiting for partitions: the group has assigned this member none ("+why+")", args...)
	}
}

// owned are the partitions the engine's consumers own now.
func (e *Engine) owned() []TopicPartition {
	e.mu.Lock()
	consumers := e.consumers
	e.mu.Unlock()
	var out []TopicPartition
	for _, c := range consumers {
		c.mu.Lock()
		for tp := range c.parts {
			out = append(out, tp)
		}
		c.mu.Unlock()
	}
	return out
}

// requestHook is the kgo hook through which the engine sees every
// request of its clients, for KafkaHealth and OutageLimit.
type requestHook struct{ b *brokerHealth }

var (
	_ kgo.HookBrokerE2E     = requestHook{}
	_ kgo.HookBrokerConnect = requestHook{}
)

func (h requestHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.b.failed("connecting to broker "+brokerName(meta), err)
	}
}

func (h requestHook) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	err := e2e.Err()
	if err == nil {
		h.b.succeeded()
		return
	}
	h.b.failed(h.b.describeRequest(meta, key), err)
}

// describeRequest names a request, its broker and what it was for: the
// group for group requests, the owned partitions for fetches.
func (b *brokerHealth) describeRequest(meta kgo.BrokerMetadata, key int16) string {
	name := kmsg.NameForKey(key)
	if name == "" {
		name = "request " + strconv.Itoa(int(key))
	}
	s := name + " to broker " + brokerName(meta)
	switch kmsg.Key(key) {
	case kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch,
		kmsg.FindCoordinator, kmsg.ConsumerGroupHeartbeat:
		if b.group != "" {
			s += fmt.Sprintf(" for group %q", b.group)
		}
	case kmsg.Fetch, kmsg.ListOffsets:
		if owned := b.owned(); len(owned) > 0 {
			s += " for " + partitionList(owned)
		}
	}
	return s
}

func brokerName(m kgo.BrokerMetadata) string {
	addr := net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
	if m.NodeID < 0 { // a seed broker, before metadata named it
		return addr
	}
	return fmt.Sprintf("%s (node %d)", addr, m.NodeID)
}

// hopeless reports whether err is something waiting for the brokers will
// not fix: authorization, an invalid group, a static member fenced by
// another with its instance id.
func hopeless(err error) bool {
	for _, h := range []error{kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.SaslAuthenticationFailed, kerr.InvalidGroupID,
		kerr.FencedInstanceID, kerr.GroupMaxSizeReached, kerr.UnsupportedVersion,
		kerr.InconsistentGroupProtocol, kerr.InvalidSessionTimeout} {
		if errors.Is(err, h) {
			return true
		}
	}
	return false
}

// brokerTransient reports whether err is the brokers being unreachable or
// briefly unable to serve (kerr's retriable codes, lost connections, a
// coordinator moving) rather than something waiting will not fix.
func brokerTransient(err error) bool {
	var eof *kgo.ErrFirstReadEOF
	var ne net.Error
	switch {
	case hopeless(err):
		return false
	case kerr.IsRetriable(err), errors.As(err, &eof), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}
