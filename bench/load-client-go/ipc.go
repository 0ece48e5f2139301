package main

// The runner's IPC channel. Node (child_process.spawn with stdio [..., "ipc"] and serialization "json")
// passes one end of a Unix socket pair and names its descriptor in NODE_CHANNEL_FD; in "json" mode each
// message is JSON.stringify(message) + "\n" in both directions (lib/internal/child_process/serialization.js).
// Objects whose "cmd" starts with "NODE_" are Node's internal messages and are ignored here.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// toClient is every runner → client message (lib/protocol.ts ToClient).
type toClient struct {
	Type   string `json:"type"`
	Seq    int    `json:"seq"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Cmd    string `json:"cmd"`
}

type ipcChannel struct {
	mu   sync.Mutex
	conn net.Conn
}

func openIPC() (*ipcChannel, error) {
	fdText := os.Getenv("NODE_CHANNEL_FD")
	if fdText == "" {
		return nil, errors.New("NODE_CHANNEL_FD is not set: start this binary from the bench runner (child_process.spawn with an \"ipc\" stdio entry)")
	}
	if mode := os.Getenv("NODE_CHANNEL_SERIALIZATION_MODE"); mode != "" && mode != "json" {
		return nil, fmt.Errorf("NODE_CHANNEL_SERIALIZATION_MODE=%s: only json is supported", mode)
	}
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		return nil, fmt.Errorf("NODE_CHANNEL_FD=%q: %w", fdText, err)
	}
	f := os.NewFile(uintptr(fd), "node-ipc")
	conn, err := net.FileConn(f) // dups the descriptor into Go's poller
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("NODE_CHANNEL_FD=%d: %w", fd, err)
	}
	return &ipcChannel{conn: conn}, nil
}

// send writes one message; safe from any goroutine. Errors are dropped: a closed channel ends the
// process through the read loop.
func (c *ipcChannel) send(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load-client-go: ipc: %v\n", err)
		return
	}
	b = append(b, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.conn.Write(b)
}

// readLoop calls handle for every message until the channel closes (the runner exited or disconnected).
func (c *ipcChannel) readLoop(handle func(toClient)) error {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var m toClient
		if err := json.Unmarshal(line, &m); err != nil {
			fmt.Fprintf(os.Stderr, "load-client-go: ipc: bad message %.200q: %v\n", line, err)
			continue
		}
		if strings.HasPrefix(m.Cmd, "NODE_") {
			continue
		}
		handle(m)
	}
	return sc.Err()
}

// ---- client → runner (lib/protocol.ts FromClient) ----

type readyMsg struct {
	Type          string  `json:"type"`
	Streams       int     `json:"streams"`
	OpenedAt      float64 `json:"openedAt"`
	FirstConfigAt float64 `json:"firstConfigAt"`
	LastConfigAt  float64 `json:"lastConfigAt"`
}

type armedMsg struct {
	Type string `json:"type"`
	Seq  int    `json:"seq"`
}

type doneMsg struct {
	Type        string  `json:"type"`
	Seq         int     `json:"seq"`
	FirstAt     float64 `json:"firstAt"`
	LastAt      float64 `json:"lastAt"`
	VerifyError string  `json:"verifyError,omitempty"`
}

type countersMsg struct {
	Type      string `json:"type"`
	Bytes     int64  `json:"bytes"`
	Responses int64  `json:"responses"`
	Errors    int64  `json:"errors"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
