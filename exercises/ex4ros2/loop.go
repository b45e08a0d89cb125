package ex4ros2

import (
	"strings"
	"sync"
)

// lockedLog is a log the robot, the node and their subscriptions write
// concurrently.
type lockedLog struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
