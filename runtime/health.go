package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker outage (the broker restarting, a network partition, requests
// failing for a while) does not end a job: franz-go retries fetches,
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

// outageState is the engine's account of a running outage, under e.mu
// with e.kafkaHealth, which holds its public half.
type outageState struct {
	first       string
	lastFailure time.Time
	lastSuccess time.Time
	// answered is the first success after the latest failure: when the
	// outage ended, if none fails before recoverQuiet.
	answered time.Time
	owned    []TopicPartition
}

// requestFailed records a failed request to the brokers: what names the
// request and what it was for. The first failure of an outage is logged
// at WARN; the rest only update LastError.
func (e *Engine) requestFailed(what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) || e.stopping.Load() {
		return
	}
	owned := e.owned()
	now := time.Now()
	msg := what + ": " + err.Error()
	e.mu.Lock()
	first := e.kafkaHealth.FailingSince.IsZero()
	if first {
		e.kafkaHealth.FailingSince = now
		e.outage = outageState{first: msg, owned: owned, lastSuccess: e.outage.lastSuccess}
	} else if len(e.outage.owned) == 0 {
		e.outage.owned = owned
	}
	e.kafkaHealth.LastError = msg
	e.outage.lastFailure = now
	e.mu.Unlock()
	if first {
		args := []any{"request", what, "err", err.Error()}
		if e.cfg.group != "" {
			args = append(args, "group", e.cfg.group)
		}
		if len(owned) > 0 {
			args = append(args, "partitions", partitionList(owned))
		}
		if e.cfg.outageLimit > 0 {
			args = append(args, "outage_limit", e.cfg.outageLimit.String())
		}
		msg := "Kafka requests are failing; retrying until they succeed"
		if e.neverAnswered() {
			msg = "cannot reach the brokers; retrying quietly until they answer"
		}
		e.Logger().Warn(msg, args...)
	}
}

// neverAnswered reports whether no request of the engine's has succeeded
// yet: brokers failing from the start are most often an address that is
// wrong, or not up yet.
func (e *Engine) neverAnswered() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outage.lastSuccess.IsZero()
}

// requestSucceeded records a request the brokers answered, and ends the
// outage once none failed for recoverQuiet.
func (e *Engine) requestSucceeded() {
	now := time.Now()
	e.mu.Lock()
	if !e.outage.lastSuccess.After(e.outage.lastFailure) {
		e.outage.answered = now
	}
	e.outage.lastSuccess = now
	e.mu.Unlock()
	e.checkRecovered()
}

// checkRecovered ends a running outage whose requests have succeeded, with
// no failure, for recoverQuiet, and logs it once.
func (e *Engine) checkRecovered() {
	now := time.Now()
	e.mu.Lock()
	h, o := e.kafkaHealth, e.outage
	over := !h.FailingSince.IsZero() && o.lastSuccess.After(o.lastFailure) && now.Sub(o.lastFailure) >= recoverQuiet
	if over {
		e.kafkaHealth.FailingSince, e.kafkaHealth.LastError = time.Time{}, ""
		e.outage = outageState{lastSuccess: o.lastSuccess}
	}
	e.mu.Unlock()
	if over {
		args := []any{"lasted", o.answered.Sub(h.FailingSince).Round(time.Millisecond).String(), "last_error", h.LastError}
		if e.cfg.group != "" {
			args = append(args, "group", e.cfg.group)
		}
		e.Logger().Info("Kafka requests succeed again", args...)
	}
}

// outageOver is the OutageError once requests have failed for longer
// than OutageLimit, nil before (and always with no limit).
func (e *Engine) outageOver() error {
	e.checkRecovered()
	if e.cfg.outageLimit <= 0 {
		return nil
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.kafkaHealth
	if h.FailingSince.IsZero() || now.Sub(h.FailingSince) <= e.cfg.outageLimit {
		return nil
	}
	return &OutageError{
		Group: e.cfg.group, Partitions: e.outage.owned, Since: h.FailingSince, For: now.Sub(h.FailingSince),
		Limit: e.cfg.outageLimit, First: e.outage.first, Last: h.LastError,
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

// setWaiting records whether the group member owns nothing while in its
// group, and logs the start of each wait once. During an outage the
// member's partitions are gone because its session is: that is the
// outage, not a wait.
func (e *Engine) setWaiting(waiting bool, member string) {
	e.mu.Lock()
	waiting = waiting && e.kafkaHealth.FailingSince.IsZero()
	was := e.kafkaHealth.WaitingForPartitions
	e.kafkaHealth.WaitingForPartitions = waiting
	e.mu.Unlock()
	if waiting && !was {
		args := []any{"group", e.cfg.group}
		if member != "" {
			args = append(args, "member_id", member)
		}
		if e.cfg.instanceID != "" {
			args = append(args, "instance_id", e.cfg.instanceID)
		}
		e.Logger().Info("waiting for partitions: the group has assigned this member none", args...)
	}
}

// requestHook is the kgo hook through which the engine sees every
// request of its clients, for KafkaHealth and OutageLimit.
type requestHook struct{ e *Engine }

var (
	_ kgo.HookBrokerE2E     = requestHook{}
	_ kgo.HookBrokerConnect = requestHook{}
)

func (h requestHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.e.requestFailed("connecting to broker "+brokerName(meta), err)
	}
}

func (h requestHook) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	err := e2e.Err()
	if err == nil {
		h.e.requestSucceeded()
		return
	}
	h.e.requestFailed(h.e.describeRequest(meta, key), err)
}

// describeRequest names a request, its broker and what it was for: the
// group for group requests, the owned partitions for fetches.
func (e *Engine) describeRequest(meta kgo.BrokerMetadata, key int16) string {
	name := kmsg.NameForKey(key)
	if name == "" {
		name = "request " + strconv.Itoa(int(key))
	}
	s := name + " to broker " + brokerName(meta)
	switch kmsg.Key(key) {
	case kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch,
		kmsg.FindCoordinator, kmsg.ConsumerGroupHeartbeat:
		if e.cfg.group != "" {
			s += fmt.Sprintf(" for group %q", e.cfg.group)
		}
	case kmsg.Fetch, kmsg.ListOffsets:
		if owned := e.owned(); len(owned) > 0 {
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
