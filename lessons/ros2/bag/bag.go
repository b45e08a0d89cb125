// Package bag reads rosbag2 recordings stored with the sqlite3 storage
// plugin (.db3 files), through cgo and the system's libsqlite3 (Debian:
// libsqlite3-dev), without any third-party Go module.
//
// A .db3 file is an SQLite database. This package needs two of its tables:
//
//	topics(id, name, type, serialization_format, ...)  one row per topic
//	messages(id, topic_id, timestamp, data)            one row per message
//
// timestamp is the receive time in nanoseconds since the Unix epoch, and data
// is the serialized message exactly as the middleware carried it; for the
// "cdr" format that is a 4-byte encapsulation header and an XCDR1 payload,
// which package msg decodes. Other tables (schema, metadata,
// message_definitions) and extra columns, which vary between ROS 2 releases,
// are ignored.
//
// A bag is opened read-only and immutable (SQLite's immutable=1 URI
// parameter): nothing is written next to it, not even a lock or a -shm file,
// so bags on read-only media work, but a bag still being recorded must not be
// read. A bag split into several files (and its metadata.yaml) is read one
// .db3 file at a time.
//
// Errors name the file: "bag: /data/x.db3: no table messages". A corrupt or
// truncated file gives an error (SQLite checks its pages), never a panic.
package bag

/*
#cgo LDFLAGS: -lsqlite3
#include <stdlib.h>
#include <sqlite3.h>
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Topic is a row of the topics table.
type Topic struct {
	ID     int64
	Name   string // e.g. "/joint_states"
	Type   string // ROS type name, e.g. "sensor_msgs/msg/JointState"
	Format string // serialization format, "cdr" for every ROS 2 middleware
}

// Message is a row of the messages table, with its topic resolved.
type Message struct {
	Topic     string // topic name
	Type      string // ROS type name of the topic
	Timestamp int64  // receive time, nanoseconds since the Unix epoch
	Data      []byte // serialized message (for "cdr": header + payload); the callee may keep it
}

// Time is Timestamp as a time.Time in UTC.
func (m Message) Time() time.Time { return time.Unix(0, m.Timestamp).UTC() }

// Bag is an open .db3 file. Its methods may be called from several
// goroutines and from inside a Messages callback (SQLite serializes them).
type Bag struct {
	path   string
	mu     sync.Mutex // guards db
	db     *C.sqlite3
	topics []Topic
	byID   map[int64]int
}

// Open opens a rosbag2 .db3 file read-only and reads its topics.
func Open(path string) (*Bag, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("bag: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("bag: %s: is a directory; pass one of the .db3 files in it", path)
	}
	if err := checkHeader(path, fi.Size()); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bag: %s: %w", path, err)
	}
	// %, ? and # are special in an SQLite file: URI; everything else is taken
	// as is.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs) + "?mode=ro&immutable=1"
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))

	b := &Bag{path: path}
	rc := C.sqlite3_open_v2(curi, &b.db, C.SQLITE_OPEN_READONLY|C.SQLITE_OPEN_URI|C.SQLITE_OPEN_FULLMUTEX, nil)
	if rc != C.SQLITE_OK {
		err := b.sqliteError(b.db, "opening", rc)
		b.Close()
		return nil, err
	}
	if err := b.checkTables(); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.readTopics(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Path is the path Open was given.
func (b *Bag) Path() string { return b.path }

// Close releases the database. It is safe to call more than once. A
// Messages call under way still runs to its end (SQLite keeps the connection
// until the statement is done); later calls report the bag closed.
func (b *Bag) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil
	}
	rc := C.sqlite3_close_v2(b.db)
	b.db = nil
	if rc != C.SQLITE_OK {
		return fmt.Errorf("bag: %s: closing: %s", b.path, C.GoString(C.sqlite3_errstr(rc)))
	}
	return nil
}

// Topics returns the topics, ordered by id.
func (b *Bag) Topics() []Topic {
	return append([]Topic(nil), b.topics...)
}

// Topic returns the topic of a given name.
func (b *Bag) Topic(name string) (Topic, bool) {
	for _, t := range b.topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// Messages calls fn for every message in the bag, in timestamp order (ties
// in recording order). It stops at the first error fn returns and returns
// that error as is.
func (b *Bag) Messages(fn func(Message) error) error {
	return b.messages(nil, fn)
}

// TopicMessages calls fn for every message on one topic, in timestamp order.
// A topic the bag does not have is an error.
func (b *Bag) TopicMessages(topic string, fn func(Message) error) error {
	t, ok := b.Topic(topic)
	if !ok {
		return fmt.Errorf("bag: %s: no topic %q", b.path, topic)
	}
	return b.messages(&t.ID, fn)
}

// Counts returns the number of messages on each topic (topics without
// messages are left out).
func (b *Bag) Counts() (map[string]int64, error) {
	counts := map[string]int64{}
	err := b.query("counting messages", "SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id", nil, func(s *C.sqlite3_stmt) error {
		id := int64(C.sqlite3_column_int64(s, 0))
		i, ok := b.byID[id]
		if !ok {
			return fmt.Errorf("bag: %s: messages on unknown topic id %d", b.path, id)
		}
		counts[b.topics[i].Name] = int64(C.sqlite3_column_int64(s, 1))
		return nil
	})
	return counts, err
}

// messages runs fn on the messages of one topic, or of all when topicID is nil.
func (b *Bag) messages(topicID *int64, fn func(Message) error) error {
	sql := "SELECT id, topic_id, timestamp, data FROM messages ORDER BY timestamp, id"
	var args []int64
	if topicID != nil {
		sql = "SELECT id, topic_id, timestamp, data FROM messages WHERE topic_id = ?1 ORDER BY timestamp, id"
		args = []int64{*topicID}
	}
	return b.query("reading messages", sql, args, func(s *C.sqlite3_stmt) error {
		id := int64(C.sqlite3_column_int64(s, 0))
		tid := int64(C.sqlite3_column_int64(s, 1))
		i, ok := b.byID[tid]
		if !ok {
			return fmt.Errorf("bag: %s: message %d is on unknown topic id %d", b.path, id, tid)
		}
		m := Message{
			Topic:     b.topics[i].Name,
			Type:      b.topics[i].Type,
			Timestamp: int64(C.sqlite3_column_int64(s, 2)),
		}
		p := C.sqlite3_column_blob(s, 3) // before _bytes, as SQLite asks
		n := C.sqlite3_column_bytes(s, 3)
		if n > 0 {
			m.Data = C.GoBytes(p, n)
		} else {
			m.Data = []byte{}
		}
		return fn(m)
	})
}

// checkTables makes sure the file is an SQLite database with the two tables
// a bag needs; this is also where SQLite first reads the file.
func (b *Bag) checkTables() error {
	have := map[string]bool{}
	err := b.query("reading the schema", "SELECT name FROM sqlite_master WHERE type = 'table'", nil, func(s *C.sqlite3_stmt) error {
		have[columnText(s, 0)] = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range []string{"topics", "messages"} {
		if !have[t] {
			return fmt.Errorf("bag: %s: no table %s (not a rosbag2 sqlite3 bag?)", b.path, t)
		}
	}
	return nil
}

func (b *Bag) readTopics() error {
	b.byID = map[int64]int{}
	return b.query("reading topics", "SELECT id, name, type, serialization_format FROM topics ORDER BY id", nil, func(s *C.sqlite3_stmt) error {
		t := Topic{
			ID:     int64(C.sqlite3_column_int64(s, 0)),
			Name:   columnText(s, 1),
			Type:   columnText(s, 2),
			Format: columnText(s, 3),
		}
		b.byID[t.ID] = len(b.topics)
		b.topics = append(b.topics, t)
		return nil
	})
}

// query runs one statement, binding args to ?1, ?2, ..., and calls row
// for every result row. The lock covers only taking the connection and
// preparing: once a statement exists, sqlite3_close_v2 keeps the connection
// alive until the statement is finalized, so row may run unlocked (and may
// call query again).
func (b *Bag) query(what, sql string, args []int64, row func(*C.sqlite3_stmt) error) error {
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	var s *C.sqlite3_stmt
	b.mu.Lock()
	db := b.db
	if db == nil {
		b.mu.Unlock()
		return fmt.Errorf("bag: %s: %s: bag is closed", b.path, what)
	}
	rc := C.sqlite3_prepare_v2(db, csql, -1, &s, nil)
	b.mu.Unlock()
	if rc != C.SQLITE_OK {
		return b.sqliteError(db, what, rc)
	}
	defer C.sqlite3_finalize(s)
	for i, a := range args {
		if rc := C.sqlite3_bind_int64(s, C.int(i+1), C.sqlite3_int64(a)); rc != C.SQLITE_OK {
			return b.sqliteError(db, what, rc)
		}
	}
	for {
		switch rc := C.sqlite3_step(s); rc {
		case C.SQLITE_ROW:
			if err := row(s); err != nil {
				return err
			}
		case C.SQLITE_DONE:
			return nil
		default:
			return b.sqliteError(db, what, rc)
		}
	}
}

func (b *Bag) sqliteError(db *C.sqlite3, what string, rc C.int) error {
	var msg string
	if db != nil {
		msg = C.GoString(C.sqlite3_errmsg(db))
	} else {
		msg = C.GoString(C.sqlite3_errstr(rc))
	}
	if table, ok := strings.CutPrefix(msg, "no such table: "); ok {
		return fmt.Errorf("bag: %s: %s: no table %s", b.path, what, table)
	}
	return &SQLiteError{Path: b.path, Op: what, Code: int(rc), Msg: msg}
}

// SQLiteError is an error that SQLite reported, e.g. for a corrupt file.
type SQLiteError struct {
	Path string // the bag
	Op   string // what the package was doing, e.g. "reading messages"
	Code int    // SQLite result code (11 SQLITE_CORRUPT, 26 SQLITE_NOTADB, ...)
	Msg  string // SQLite's message
}

func (e *SQLiteError) Error() string {
	return fmt.Sprintf("bag: %s: %s: %s (SQLite code %d)", e.Path, e.Op, e.Msg, e.Code)
}

// Is matches errors.Is(err, ErrCorrupt) for SQLITE_CORRUPT and SQLITE_NOTADB.
func (e *SQLiteError) Is(target error) bool {
	return target == ErrCorrupt && (e.Code&0xff == C.SQLITE_CORRUPT || e.Code&0xff == C.SQLITE_NOTADB)
}

// ErrCorrupt matches (errors.Is) the errors of a file that is not an SQLite
// database or is damaged.
var ErrCorrupt = errors.New("bag: corrupt or not an SQLite file")

// checkHeader catches what SQLite lets through: its pager zero-fills a page
// that the file ends in the middle of, so a file cut short by less than a
// page would read back with bytes silently changed. A file must be a whole
// number of pages, at least as many as its header counts.
func checkHeader(path string, size int64) error {
	if size == 0 {
		return nil // SQLite's empty database; "no table topics" follows
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bag: %w", err)
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return &damagedError{fmt.Sprintf("bag: %s: %d bytes is too short for an SQLite database (truncated?)", path, size)}
	}
	if string(h[:16]) != "SQLite format 3\x00" {
		return &damagedError{fmt.Sprintf("bag: %s: not an SQLite database (no \"SQLite format 3\" header)", path)}
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return &damagedError{fmt.Sprintf("bag: %s: page size %d in the SQLite header is not a power of two from 512 to 65536", path, pageSize)}
	}
	if size%pageSize != 0 {
		return &damagedError{fmt.Sprintf("bag: %s: file size %d is not a whole number of %d-byte pages (truncated?)", path, size, pageSize)}
	}
	// The page count at offset 28 is valid when the change counter at 24
	// matches the one at 92 ("version-valid-for").
	if pages := int64(binary.BigEndian.Uint32(h[28:32])); pages > 0 && string(h[24:28]) == string(h[92:96]) && pages*pageSize > size {
		return &damagedError{fmt.Sprintf("bag: %s: file has %d pages, its header counts %d (truncated?)", path, size/pageSize, pages)}
	}
	return nil
}

// damagedError is a file that checkHeader rejects; it matches ErrCorrupt.
type damagedError struct{ msg string }

func (e *damagedError) Error() string        { return e.msg }
func (e *damagedError) Is(target error) bool { return target == ErrCorrupt }

func columnText(s *C.sqlite3_stmt, col C.int) string {
	p := C.sqlite3_column_text(s, col)
	n := C.sqlite3_column_bytes(s, col)
	if p == nil || n <= 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(p)), n)
}
