// Package ros2 talks to ROS 2 nodes without ROS 2: it speaks DDS directly
// through Eclipse Cyclone DDS 0.10 (Debian's cyclonedds-dev, the version
// ROS 2 Humble and Jazzy pin) with ROS 2's conventions, so unmodified
// rclcpp and rclpy nodes, on Cyclone DDS or Fast DDS, see our topics as
// their own:
//
//   - topic "/joint_states" is the DDS topic "rt/joint_states";
//   - type sensor_msgs/msg/JointState is the DDS type
//     "sensor_msgs::msg::dds_::JointState_";
//   - topics are key-less; payloads are XCDR1 little-endian with no XTypes
//     type information (peers match on the type name);
//   - QoS profiles are rclcpp's: DefaultQoS (reliable, volatile, keep last
//     10) and SensorDataQoS (best effort, volatile, keep last 5).
//
// Cyclone moves raw serialized payloads (a small key-less sertype in
// rawcdr.c); every message is encoded and decoded in Go by package msg.
//
// A Node is one DDS participant on a domain (ROS_DOMAIN_ID). Publishers
// are safe for concurrent use. Each subscription has its own goroutine
// that delivers samples, in order, to its callback. Closing the node (or
// cancelling its context) stops the goroutines, then deletes the
// participant and everything in it.
package ros2

/*
#cgo LDFLAGS: -lddsc
#include <stdlib.h>
#include "rawcdr.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/policylab/policylab/lessons/ros2/msg"
)

// Reliability is the DDS reliability QoS.
type Reliability int

const (
	// Reliable: lost samples are resent (rclcpp's default).
	Reliable Reliability = iota
	// BestEffort: lost samples stay lost (rclcpp's sensor data profile).
	BestEffort
)

// String returns "reliable" or "best-effort".
func (r Reliability) String() string {
	if r == BestEffort {
		return "best-effort"
	}
	return "reliable"
}

// Durability is the DDS durability QoS.
type Durability int

const (
	// Volatile: a late-joining reader gets only what is published after
	// it matched (rclcpp's default).
	Volatile Durability = iota
	// TransientLocal: the writer keeps its last Depth samples for readers
	// that join later (ROS 2's "latched" topics, e.g. /robot_description).
	TransientLocal
)

// String returns "volatile" or "transient-local".
func (d Durability) String() string {
	if d == TransientLocal {
		return "transient-local"
	}
	return "volatile"
}

// QoS is a ROS 2 QoS profile with keep-last history.
type QoS struct {
	Reliability Reliability
	Durability  Durability
	// Depth is the history depth (keep last Depth samples).
	Depth int
}

// DefaultQoS is rclcpp's rmw_qos_profile_default: reliable, volatile,
// keep last 10.
func DefaultQoS() QoS { return QoS{Reliability: Reliable, Durability: Volatile, Depth: 10} }

// SensorDataQoS is rclcpp's rmw_qos_profile_sensor_data: best effort,
// volatile, keep last 5. Cameras publish with it.
func SensorDataQoS() QoS { return QoS{Reliability: BestEffort, Durability: Volatile, Depth: 5} }

// Validate checks the profile.
func (q QoS) Validate() error {
	if q.Reliability != Reliable && q.Reliability != BestEffort {
		return fmt.Errorf("ros2: QoS.Reliability %d is neither Reliable nor BestEffort", int(q.Reliability))
	}
	if q.Durability != Volatile && q.Durability != TransientLocal {
		return fmt.Errorf("ros2: QoS.Durability %d is neither Volatile nor TransientLocal", int(q.Durability))
	}
	if q.Depth < 1 || q.Depth > 1<<20 {
		return fmt.Errorf("ros2: QoS.Depth must be in 1..%d, got %d", 1<<20, q.Depth)
	}
	return nil
}

// String returns e.g. "reliable/volatile/keep-last-10".
func (q QoS) String() string {
	return fmt.Sprintf("%s/%s/keep-last-%d", q.Reliability, q.Durability, q.Depth)
}

// maxBlocking bounds how long a reliable write may block when the
// readers fall behind (the DDS specification's default, 100 ms), so a
// control loop is never stalled indefinitely by a slow subscriber.
const maxBlocking = 100 * time.Millisecond

func (q QoS) cqos() *C.dds_qos_t {
	cq := C.dds_create_qos()
	if q.Reliability == BestEffort {
		C.dds_qset_reliability(cq, C.DDS_RELIABILITY_BEST_EFFORT, 0)
	} else {
		C.dds_qset_reliability(cq, C.DDS_RELIABILITY_RELIABLE, C.dds_duration_t(maxBlocking.Nanoseconds()))
	}
	if q.Durability == TransientLocal {
		C.dds_qset_durability(cq, C.DDS_DURABILITY_TRANSIENT_LOCAL)
	} else {
		C.dds_qset_durability(cq, C.DDS_DURABILITY_VOLATILE)
	}
	C.dds_qset_history(cq, C.DDS_HISTORY_KEEP_LAST, C.int32_t(q.Depth))
	return cq
}

// MaxDomain is the largest ROS 2 domain id (ROS 2 allows 0..232 on
// Linux; 101..232 collide with ephemeral ports on some systems).
const MaxDomain = 232

// DomainFromEnv returns ROS_DOMAIN_ID, or 0 when it is unset or empty,
// as ROS 2 does.
func DomainFromEnv() (int, error) {
	s := strings.TrimSpace(os.Getenv("ROS_DOMAIN_ID"))
	if s == "" {
		return 0, nil
	}
	d, err := strconv.Atoi(s)
	if err != nil || d < 0 || d > MaxDomain {
		return 0, fmt.Errorf("ros2: ROS_DOMAIN_ID=%q is not an integer in 0..%d", s, MaxDomain)
	}
	return d, nil
}

// TopicName maps a ROS 2 topic name to its DDS topic name: "/joint_states"
// and "joint_states" both give "rt/joint_states". Names must be made of
// letters, digits, '_' and '/' (no "//", no trailing '/', no leading
// digit in a segment), as ROS 2 requires.
func TopicName(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	if n == "" {
		return "", fmt.Errorf("ros2: empty topic name %q", name)
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == "" {
			return "", fmt.Errorf("ros2: topic name %q has an empty segment", name)
		}
		if seg[0] >= '0' && seg[0] <= '9' {
			return "", fmt.Errorf("ros2: topic name %q: segment %q starts with a digit", name, seg)
		}
		for _, r := range seg {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return "", fmt.Errorf("ros2: topic name %q: character %q is not allowed", name, r)
			}
		}
	}
	return "rt/" + n, nil
}

// ErrClosed is returned by operations on a closed node.
var ErrClosed = errors.New("ros2: node closed")

func ddsErr(what string, rc C.dds_return_t) error {
	return fmt.Errorf("ros2: %s: %s (%d)", what, C.GoString(C.dds_strretcode(rc)), int(rc))
}

// Node is one DDS participant, ROS 2's node.
type Node struct {
	name   string
	domain int
	pp     C.dds_entity_t

	// Logf logs what a subscription cannot deliver (a payload that does
	// not decode, a DDS error); log.Printf by default. Set it before
	// subscribing.
	Logf func(format string, args ...any)

	mu     sync.RWMutex // guards closed against entity use
	closed bool
	subs   []*Subscription
	wg     sync.WaitGroup
	stop   context.CancelFunc
}

// NewNode creates a participant on domain (0..MaxDomain; use
// DomainFromEnv for ROS_DOMAIN_ID). Cyclone reads its configuration from
// CYCLONEDDS_URI when set (interfaces, peers, socket buffers). The node
// closes when ctx is done.
func NewNode(ctx context.Context, name string, domain int) (*Node, error) {
	if domain < 0 || domain > MaxDomain {
		return nil, fmt.Errorf("ros2: node %q: domain %d outside 0..%d", name, domain, MaxDomain)
	}
	pp := C.dds_create_participant(C.dds_domainid_t(domain), nil, nil)
	if pp < 0 {
		return nil, ddsErr(fmt.Sprintf("node %q: creating a participant on domain %d", name, domain), C.dds_return_t(pp))
	}
	n := &Node{name: name, domain: domain, pp: pp, Logf: log.Printf}
	cctx, cancel := context.WithCancel(ctx)
	n.stop = cancel
	go func() {
		<-cctx.Done()
		n.Close()
	}()
	return n, nil
}

// Name is the node's name; Domain its DDS domain.
func (n *Node) Name() string { return n.name }

// Domain is the DDS domain id the node is on.
func (n *Node) Domain() int { return n.domain }

// Close stops the subscriptions (waiting for a callback in progress to
// return), then deletes the participant with its topics, readers and
// writers. It is safe to call more than once and from a callback's
// goroutine only via the node's context (cancel it instead).
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	subs := n.subs
	n.mu.Unlock()
	for _, s := range subs {
		C.dds_set_guardcondition(s.guard, true)
	}
	n.wg.Wait()
	n.stop()
	if rc := C.dds_delete(n.pp); rc < 0 {
		return ddsErr(fmt.Sprintf("node %q: deleting the participant", n.name), rc)
	}
	return nil
}

func (n *Node) topic(name, rosType string) (C.dds_entity_t, string, error) {
	dname, err := TopicName(name)
	if err != nil {
		return 0, "", err
	}
	tname, err := msg.DDSTypeName(rosType)
	if err != nil {
		return 0, "", err
	}
	cn, ct := C.CString(dname), C.CString(tname)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(ct))
	tp := C.plraw_create_topic(n.pp, cn, ct, nil)
	if tp < 0 {
		return 0, "", ddsErr(fmt.Sprintf("node %q: topic %s of type %s (a topic of that name with another type?)", n.name, name, rosType), C.dds_return_t(tp))
	}
	return tp, dname, nil
}

// live runs f while the node is open (holding it open meanwhile), or
// returns ErrClosed.
func (n *Node) live(f func() error) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	return f()
}

// endpoint creates a writer or a reader (create) on topic with the QoS
// profile; the caller holds n.mu and has checked that n is open.
func (n *Node) endpoint(topic, rosType, what string, qos QoS, create func(tp C.dds_entity_t, q *C.dds_qos_t) C.dds_entity_t) (C.dds_entity_t, error) {
	tp, _, err := n.topic(topic, rosType)
	if err != nil {
		return 0, err
	}
	cq := qos.cqos()
	defer C.dds_delete_qos(cq)
	e := create(tp, cq)
	if e < 0 {
		return 0, ddsErr(fmt.Sprintf("node %q: %s on %s", n.name, what, topic), C.dds_return_t(e))
	}
	return e, nil
}

// RawPublisher writes serialized payloads on one topic.
type RawPublisher struct {
	node    *Node
	topic   string
	rosType string
	qos     QoS
	w       C.dds_entity_t
}

// NewRawPublisher creates a writer for topic, of the ROS type rosType
// (e.g. "std_msgs/msg/String"), with the QoS profile. Replaying a bag
// uses it: payloads go out exactly as recorded.
func NewRawPublisher(n *Node, topic, rosType string, qos QoS) (*RawPublisher, error) {
	if err := qos.Validate(); err != nil {
		return nil, err
	}
	var w C.dds_entity_t
	err := n.live(func() (err error) {
		w, err = n.endpoint(topic, rosType, "writer", qos, func(tp C.dds_entity_t, q *C.dds_qos_t) C.dds_entity_t {
			return C.dds_create_writer(n.pp, tp, q, nil)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &RawPublisher{node: n, topic: topic, rosType: rosType, qos: qos, w: w}, nil
}

// Topic is the ROS 2 topic name the publisher writes.
func (p *RawPublisher) Topic() string { return p.topic }

// PublishRaw writes a serialized payload (encapsulation header included)
// as it is.
func (p *RawPublisher) PublishRaw(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("ros2: %s: payload of %d bytes has no encapsulation header", p.topic, len(b))
	}
	return p.node.live(func() error {
		if rc := C.plraw_write(p.w, (*C.uchar)(unsafe.Pointer(&b[0])), C.uint32_t(len(b))); rc < 0 {
			return ddsErr("publishing on "+p.topic, rc)
		}
		return nil
	})
}

// Matched is the number of readers the publisher is matched with now.
func (p *RawPublisher) Matched() (int, error) {
	var st C.dds_publication_matched_status_t
	err := p.node.live(func() error {
		if rc := C.dds_get_publication_matched_status(p.w, &st); rc < 0 {
			return ddsErr("matched status of "+p.topic, rc)
		}
		return nil
	})
	return int(st.current_count), err
}

// WaitMatched waits until the publisher is matched with at least n
// readers, or ctx is done.
func (p *RawPublisher) WaitMatched(ctx context.Context, n int) error {
	return waitMatched(ctx, p.topic, n, p.Matched)
}

// Publisher writes messages of type T on one topic.
type Publisher[T any, PT interface {
	*T
	msg.Message
}] struct {
	*RawPublisher
}

// NewPublisher creates a writer for topic with the QoS profile, e.g.
//
//	pub, err := ros2.NewPublisher[msg.JointTrajectory](node, "/arm_controller/joint_trajectory", ros2.DefaultQoS())
func NewPublisher[T any, PT interface {
	*T
	msg.Message
}](n *Node, topic string, qos QoS) (*Publisher[T, PT], error) {
	r, err := NewRawPublisher(n, topic, PT(new(T)).TypeName(), qos)
	if err != nil {
		return nil, err
	}
	return &Publisher[T, PT]{r}, nil
}

// Publish encodes m and writes it.
func (p *Publisher[T, PT]) Publish(m *T) error {
	return p.PublishRaw(msg.Marshal(PT(m)))
}

func waitMatched(ctx context.Context, topic string, n int, matched func() (int, error)) error {
	for {
		m, err := matched()
		if err != nil {
			return err
		}
		if m >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ros2: %s: %d of %d endpoints matched: %w", topic, m, n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Info describes a received sample.
type Info struct {
	// Arrival is when the subscription took the sample from DDS (the
	// local clock), before decoding.
	Arrival time.Time
	// Source is the writer's source timestamp.
	Source time.Time
	// Size is the serialized size, encapsulation header included.
	Size int
}

// Subscription delivers the samples of one topic to a callback.
type Subscription struct {
	node    *Node
	topic   string
	qos     QoS
	r       C.dds_entity_t
	guard   C.dds_entity_t
	ws      C.dds_entity_t
	errors  atomic.Int64
	samples atomic.Int64
}

// Subscribe creates a reader for topic and calls fn with each sample,
// decoded into a fresh *T, from the subscription's goroutine (samples in
// order, one call at a time). A payload that does not decode is counted
// (Errors) and logged, never delivered.
func Subscribe[T any, PT interface {
	*T
	msg.Message
}](n *Node, topic string, qos QoS, fn func(*T, Info)) (*Subscription, error) {
	return SubscribeRaw(n, topic, PT(new(T)).TypeName(), qos, func(b []byte, info Info) error {
		m := new(T)
		if err := msg.Unmarshal(b, PT(m)); err != nil {
			return err
		}
		fn(m, info)
		return nil
	})
}

// SubscribeRaw is Subscribe without decoding: fn gets each payload as it
// arrived (encapsulation header included; the slice is fn's to keep). An
// error from fn is counted and logged.
func SubscribeRaw(n *Node, topic, rosType string, qos QoS, fn func([]byte, Info) error) (*Subscription, error) {
	if err := qos.Validate(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	r, err := n.endpoint(topic, rosType, "reader", qos, func(tp C.dds_entity_t, q *C.dds_qos_t) C.dds_entity_t {
		return C.dds_create_reader(n.pp, tp, q, nil)
	})
	if err != nil {
		return nil, err
	}
	s := &Subscription{node: n, topic: topic, qos: qos, r: r}
	rc := C.dds_create_readcondition(r, C.DDS_ANY_STATE)
	s.ws = C.dds_create_waitset(n.pp)
	s.guard = C.dds_create_guardcondition(n.pp)
	fail := func(what string, code C.dds_return_t) (*Subscription, error) {
		for _, e := range []C.dds_entity_t{s.guard, s.ws, r} { // r takes its read condition along
			if e > 0 {
				C.dds_delete(e)
			}
		}
		return nil, ddsErr(what+" for "+topic, code)
	}
	for _, e := range []C.dds_entity_t{rc, s.ws, s.guard} {
		if e < 0 {
			return fail("waitset", C.dds_return_t(e))
		}
	}
	if a := C.dds_waitset_attach(s.ws, rc, 0); a < 0 {
		return fail("attaching the read condition", a)
	}
	if a := C.dds_waitset_attach(s.ws, s.guard, 1); a < 0 {
		return fail("attaching the guard condition", a)
	}
	n.subs = append(n.subs, s)
	n.wg.Add(1)
	go s.run(fn)
	return s, nil
}

// Topic is the ROS 2 topic name the subscription reads.
func (s *Subscription) Topic() string { return s.topic }

// Samples is the number of samples delivered to the callback so far.
func (s *Subscription) Samples() int64 { return s.samples.Load() }

// Errors is the number of samples that could not be delivered (they did
// not decode, or the callback returned an error).
func (s *Subscription) Errors() int64 { return s.errors.Load() }

// Matched is the number of writers the subscription is matched with now.
func (s *Subscription) Matched() (int, error) {
	var st C.dds_subscription_matched_status_t
	err := s.node.live(func() error {
		if rc := C.dds_get_subscription_matched_status(s.r, &st); rc < 0 {
			return ddsErr("matched status of "+s.topic, rc)
		}
		return nil
	})
	return int(st.current_count), err
}

// WaitMatched waits until the subscription is matched with at least n
// writers, or ctx is done.
func (s *Subscription) WaitMatched(ctx context.Context, n int) error {
	return waitMatched(ctx, s.topic, n, s.Matched)
}

// waitTimeout bounds one wait on the waitset; the guard condition wakes
// it at once on Close, so this only matters if a wake-up were lost.
const waitTimeout = time.Second

func (s *Subscription) run(fn func([]byte, Info) error) {
	defer s.node.wg.Done()
	fail := func(err error) {
		// The first few failures are logged in full, then one in 1000.
		if n := s.errors.Add(1); n <= 5 || n%1000 == 0 {
			if s.node.Logf != nil {
				s.node.Logf("ros2: node %q: %s: sample dropped (%d so far): %v", s.node.name, s.topic, n, err)
			}
		}
	}
	for {
		var trig C.dds_attach_t
		rc := C.dds_waitset_wait(s.ws, &trig, 1, C.dds_duration_t(waitTimeout.Nanoseconds()))
		s.node.mu.RLock()
		closed := s.node.closed
		s.node.mu.RUnlock()
		if closed {
			return
		}
		if rc < 0 {
			fail(ddsErr("waiting for samples", rc))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for {
			var data *C.uchar
			var size C.uint32_t
			var src C.int64_t
			var valid C.int
			n := C.plraw_take(s.r, &data, &size, &src, &valid)
			if n < 0 {
				fail(ddsErr("taking a sample", C.dds_return_t(n)))
				break
			}
			if n == 0 {
				break
			}
			if valid == 0 {
				continue
			}
			info := Info{Arrival: time.Now(), Source: time.Unix(0, int64(src)), Size: int(size)}
			b := C.GoBytes(unsafe.Pointer(data), C.int(size))
			C.plraw_free(unsafe.Pointer(data))
			if err := fn(b, info); err != nil {
				fail(err)
				continue
			}
			s.samples.Add(1)
		}
	}
}
