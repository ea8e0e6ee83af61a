package runtime

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file owns the group protocol: the balancers of the location
// strategies, and the member metadata that tells two jobs sharing one
// group apart.

// balancerProtocol names the engine's group protocol. Its member and
// assignment user data are ours (see memberData and assignmentNote); change
// the name if their meaning ever changes incompatibly, so that old and new
// builds fall back to cooperative-sticky instead of misreading each other.
// v2: a member is a job (all its streams), no longer one stream.
const balancerProtocol = "streamgen-v2"

// GroupConflictError is a consumer group used by more than one job. The
// group leader sees members of different jobs (by JobName, or by their
// streams when unnamed) and fails the members that joined last. The job
// that already owned partitions keeps running, so a misconfigured new job
// cannot take down a running one; when none owned any (both started
// together) every member fails. Instances of one named job that differ in
// their streams (a rolling upgrade that adds one) are not a conflict.
type GroupConflictError struct {
	Group string
	// Jobs describes each job seen in the group, for example
	// `clicks (topics [clicks])`, sorted.
	Jobs []string
}

func (e *GroupConflictError) Error() string {
	return fmt.Sprintf("group %q is used by jobs with streams %s; give each job its own group", e.Group, joinAnd(e.Jobs))
}

// memberData is a member's JoinGroup user data: which job it runs, and
// the streams it reads.
type memberData struct {
	Job     string       `json:"job,omitempty"`
	Streams []streamData `json:"streams"`
}

type streamData struct {
	Stream  string   `json:"stream"`
	Topics  []string `json:"topics,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
}

// String is the member's identity: its job's name, else its streams.
func (d memberData) String() string {
	if d.Job != "" {
		return "job " + d.Job
	}
	out := make([]string, len(d.Streams))
	for i, s := range d.Streams {
		if s.Pattern != "" {
			out[i] = fmt.Sprintf("%s (pattern %s)", s.Stream, s.Pattern)
		} else {
			out[i] = fmt.Sprintf("%s (topics %v)", s.Stream, s.Topics)
		}
	}
	return strings.Join(out, " + ")
}

// assignmentNote is the leader's SyncGroup user data for a member it gave
// nothing because the member's stream conflicts with the group's.
type assignmentNote struct {
	Conflict []string `json:"conflict,omitempty"`
}

// groupBalancer is the kgo.GroupBalancer of every group stream. It is
// cooperative (KIP-429): a partition moving between members is first
// revoked by its owner between two batches, then assigned in the rebalance
// that follows, so no partition is ever owned twice.
//
//   - With PreferFixed, a mapped partition goes to the member whose
//     InstanceID equals the mapped name, if that member is in the group and
//     subscribes to the topic; otherwise it is balanced with the rest. The
//     rest are spread evenly among the members by count, without counting
//     fixed partitions (these usually mark heavy partitions pinned to a
//     bigger host), and stay with their owner where evenness allows. The
//     leader's map is the one that counts.
//   - Otherwise the plan is franz-go's cooperative-sticky.
//
// Members also carry their stream's identity (memberData), which lets the
// leader detect two streams sharing one group; see GroupConflictError.
//
// The client lists kgo's cooperative-sticky balancer second, so a member
// that does not speak this protocol (an older build, a console consumer)
// can still join; the group then runs cooperative-sticky, without fixed
// placement and without conflict detection, until that member leaves.
type groupBalancer struct {
	self  memberData
	fixed map[TopicPartition]string
	// conflict is told, from a kgo goroutine, that the leader refused this
	// member because of a conflict; it gets every stream seen.
	conflict func(streams []string)
}

// balancers are the kgo balancers of the group member, preferred first.
func (c *consumer) balancers() []kgo.GroupBalancer {
	self := memberData{Job: c.cfg.job}
	fixed := make(map[TopicPartition]string)
	for _, s := range c.srcs {
		d := streamData{Stream: s.name}
		if s.cs.kind == kindPattern {
			d.Pattern = s.cs.pattern.String()
		} else {
			d.Topics = slices.Compact(slices.Sorted(slices.Values(s.cs.topics)))
		}
		self.Streams = append(self.Streams, d)
		if s.cfg.location.kind == locFixed {
			maps.Copy(fixed, s.cfg.location.fixed)
		}
	}
	slices.SortFunc(self.Streams, func(a, b streamData) int { return cmp.Compare(a.Stream, b.Stream) })
	b := &groupBalancer{self: self, conflict: func(jobs []string) {
		c.setFatal(&GroupConflictError{Group: c.cfg.group, Jobs: jobs})
	}}
	if len(fixed) > 0 {
		b.fixed = fixed
	}
	return []kgo.GroupBalancer{b, kgo.CooperativeStickyBalancer()}
}

func (*groupBalancer) ProtocolName() string { return balancerProtocol }
func (*groupBalancer) IsCooperative() bool  { return true }

func (b *groupBalancer) JoinGroupMetadata(topics []string, owned map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = topics
	meta.Generation = generation
	for _, t := range slices.Sorted(maps.Keys(owned)) {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic = t
		o.Partitions = owned[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, o)
	}
	// Deterministic bytes matter: the coordinator compares metadata to
	// decide whether a rejoining static member forces a rebalance.
	meta.UserData, _ = json.Marshal(b.self)
	return meta.AppendTo(nil)
}

func (b *groupBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	out := make(map[string][]int32)
	if len(assignment) == 0 { // Kafka's answer to a member given nothing
		return out, nil
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("reading the group assignment: %w", err)
	}
	for _, t := range a.Topics {
		out[t.Topic] = t.Partitions
	}
	if len(a.UserData) > 0 {
		var note assignmentNote
		if err := json.Unmarshal(a.UserData, &note); err == nil && len(note.Conflict) > 0 && b.conflict != nil {
			b.conflict(note.Conflict)
		}
	}
	return out, nil
}

func (b *groupBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	return cb, cb.MemberTopics(), err
}

// Balance implements kgo.ConsumerBalancerBalance; only the leader runs it.
func (b *groupBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	keep, streams := splitByJob(cb)
	if streams == nil {
		return b.plan(cb, topics)
	}
	note, _ := json.Marshal(assignmentNote{Conflict: streams})
	out := &conflictPlan{note: note}
	var kept []kmsg.JoinGroupResponseMember
	for i, m := range cb.Members() {
		if keep[i] {
			kept = append(kept, m)
		} else {
			out.refused = append(out.refused, m.MemberID)
		}
	}
	if len(kept) == 0 {
		return out
	}
	sub, err := kgo.NewConsumerBalancer(b, kept)
	if err != nil {
		cb.SetError(err)
		return nil
	}
	out.base = b.plan(sub, topics)
	if p, ok := out.base.(*kgo.BalancePlan); ok {
		// The refused members may still own partitions: hold those
		// back until they have revoked them.
		p.AdjustCooperative(cb)
	}
	return out
}

// plan balances members that all belong to one stream.
func (b *groupBalancer) plan(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	if len(b.fixed) == 0 {
		if sticky, ok := kgo.CooperativeStickyBalancer().(kgo.ConsumerBalancerBalance); ok {
			return sticky.Balance(cb, topics)
		}
	}
	return balanceFixed(cb, topics, b.fixed)
}

// splitByJob groups the members by job identity. With one job it
// returns nil streams. Otherwise keep marks the members of the stream that
// owns the most partitions, if exactly one does, and streams describes all
// of them, sorted.
func splitByJob(cb *kgo.ConsumerBalancer) (keep []bool, streams []string) {
	n := len(cb.Members())
	ids := make([]string, n)
	owned := make(map[string]int)
	for i := range n {
		m, meta := cb.MemberAt(i)
		var d memberData
		if err := json.Unmarshal(meta.UserData, &d); err != nil || (d.Job == "" && len(d.Streams) == 0) {
			ids[i] = fmt.Sprintf("of member %s (unreadable stream metadata)", m.MemberID)
		} else {
			ids[i] = d.String()
		}
		owned[ids[i]] += 0
		for _, o := range meta.OwnedPartitions {
			owned[ids[i]] += len(o.Partitions)
		}
	}
	if len(owned) < 2 {
		return nil, nil
	}
	streams = slices.Sorted(maps.Keys(owned))
	best, tie := "", false
	for _, id := range streams {
		switch {
		case best == "" || owned[id] > owned[best]:
			best, tie = id, false
		case owned[id] == owned[best]:
			tie = true
		}
	}
	keep = make([]bool, n)
	if tie || owned[best] == 0 {
		return keep, streams
	}
	for i, id := range ids {
		keep[i] = id == best
	}
	return keep, streams
}

// conflictPlan is a plan for the members kept plus an empty assignment,
// carrying the conflict, for every refused member.
type conflictPlan struct {
	base    kgo.IntoSyncAssignment // nil when every member is refused
	refused []string
	note    []byte
}

func (p *conflictPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	var out []kmsg.SyncGroupRequestGroupAssignment
	if p.base != nil {
		out = p.base.IntoSyncAssignment()
	}
	for _, id := range p.refused {
		a := kmsg.ConsumerMemberAssignment{UserData: p.note}
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = id
		sa.MemberAssignment = a.AppendTo(nil)
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b kmsg.SyncGroupRequestGroupAssignment) int { return cmp.Compare(a.MemberID, b.MemberID) })
	return out
}

// balanceFixed places fixed partitions on their instances and spreads the
// rest evenly and stickily; see groupBalancer.
func balanceFixed(cb *kgo.ConsumerBalancer, topics map[string]int32, fixed map[TopicPartition]string) *kgo.BalancePlan {
	members := cb.Members()
	g := readMembers(cb)
	plan := cb.NewPlan()
	var rest []TopicPartition
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		for p := range topics[t] {
			tp := TopicPartition{t, p}
			if host, ok := fixed[tp]; ok {
				if i, ok := g.byInstance[host]; ok && g.wants[i][t] {
					plan.AddPartition(&members[i], t, p)
					continue
				}
			}
			rest = append(rest, tp)
		}
	}
	owner := g.spread(rest)
	for _, tp := range rest {
		if i, ok := owner[tp]; ok {
			plan.AddPartition(&members[i], tp.Topic, tp.Partition)
		}
	}
	plan.AdjustCooperative(cb)
	return plan
}

// groupMembers is what the fixed balancer knows of the group's members,
// by their index in the balancer.
type groupMembers struct {
	wants      []map[string]bool // the topics each subscribes to
	byInstance map[string]int    // static members by instance id
	// claim is each owned partition's owner with the newest generation.
	claim map[TopicPartition]int
	count []int // partitions given to each, while spreading
}

func readMembers(cb *kgo.ConsumerBalancer) *groupMembers {
	n := len(cb.Members())
	g := &groupMembers{wants: make([]map[string]bool, n), byInstance: make(map[string]int), claim: make(map[TopicPartition]int), count: make([]int, n)}
	claimGen := make(map[TopicPartition]int32)
	for i := range n {
		m, meta := cb.MemberAt(i)
		g.wants[i] = make(map[string]bool, len(meta.Topics))
		for _, t := range meta.Topics {
			g.wants[i][t] = true
		}
		if m.InstanceID != nil {
			g.byInstance[*m.InstanceID] = i
		}
		for _, o := range meta.OwnedPartitions {
			for _, p := range o.Partitions {
				tp := TopicPartition{o.Topic, p}
				if gen, ok := claimGen[tp]; !ok || meta.Generation > gen {
					g.claim[tp], claimGen[tp] = i, meta.Generation
				}
			}
		}
	}
	return g
}

// least returns the least loaded member wanting the topic, -1 if none.
func (g *groupMembers) least(topic string) int {
	best := -1
	for i := range g.wants {
		if g.wants[i][topic] && (best < 0 || g.count[i] < g.count[best]) {
			best = i
		}
	}
	return best
}

// spread gives the partitions to members wanting their topics: each to
// the member that owned it if there is one (sticky), the others to the
// least loaded, and then evens the counts out.
func (g *groupMembers) spread(parts []TopicPartition) map[TopicPartition]int {
	owner := make(map[TopicPartition]int, len(parts))
	for _, tp := range parts {
		if i, ok := g.claim[tp]; ok && g.wants[i][tp.Topic] {
			owner[tp] = i
			g.count[i]++
		}
	}
	for _, tp := range parts {
		if _, ok := owner[tp]; ok {
			continue
		}
		if i := g.least(tp.Topic); i >= 0 {
			owner[tp] = i
			g.count[i]++
		}
	}
	// Even out what stickiness left uneven, moving partitions a member
	// did not own before first, then the highest partitions. Every move
	// lowers the sum of squared counts, so this ends.
	for moved := true; moved; {
		moved = false
		for _, keepOwned := range []bool{true, false} {
			for _, tp := range slices.Backward(parts) {
				o, ok := owner[tp]
				if !ok {
					continue
				}
				if c, was := g.claim[tp]; keepOwned && was && c == o {
					continue
				}
				if i := g.least(tp.Topic); i >= 0 && g.count[i] < g.count[o]-1 {
					owner[tp] = i
					g.count[o]--
					g.count[i]++
					moved = true
				}
			}
		}
	}
	return owner
}
