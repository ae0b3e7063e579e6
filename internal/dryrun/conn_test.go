package dryrun

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// packet frames payload as a MySQL packet.
func packet(payloadLen int, seq byte) []byte {
	b := []byte{byte(payloadLen), byte(payloadLen >> 8), byte(payloadLen >> 16), seq}
	return append(b, bytes.Repeat([]byte{'x'}, payloadLen)...)
}

// readAll reads from a boundedConn fed with stream, chunk bytes at a time.
func readAll(t *testing.T, c *boundedConn, stream []byte, chunk int) (int, error) {
	t.Helper()
	server, client := net.Pipe()
	c.Conn = client
	go func() {
		for len(stream) > 0 {
			n := min(chunk, len(stream))
			if _, err := server.Write(stream[:n]); err != nil {
				return
			}
			stream = stream[n:]
		}
		_ = server.Close()
	}()
	defer func() { _ = client.Close() }()
	total := 0
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		total += n
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func TestBoundedConnInspectsPacketHeaders(t *testing.T) {
	const limit = 1000
	stream := append(packet(10, 0), packet(limit, 1)...)
	tests := []struct {
		name    string
		stream  []byte
		chunk   int // headers split across reads when small
		maxRead int
		wantErr error
	}{
		{name: "packets up to the limit, read whole", stream: stream, chunk: 4096, maxRead: 1 << 20},
		{name: "packets up to the limit, a byte at a time", stream: stream, chunk: 1, maxRead: 1 << 20},
		{name: "a packet over the limit", stream: append(packet(10, 0), packet(limit+1, 1)...), chunk: 4096, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "a packet over the limit, its header split", stream: append(packet(10, 0), packet(limit+1, 1)...), chunk: 3, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "a 16 MiB header is refused before its payload", stream: []byte{0xff, 0xff, 0xff, 0}, chunk: 4096, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "more than maxRead in all", stream: bytes.Repeat(packet(100, 0), 20), chunk: 4096, maxRead: 1000, wantErr: errPacketTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &boundedConn{deadline: time.Now().Add(time.Second), maxPacket: limit, maxRead: tc.maxRead}
			n, err := readAll(t, c, tc.stream, tc.chunk)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v after %d bytes, want %v", err, n, tc.wantErr)
			}
			if err == nil && n != len(tc.stream) {
				t.Errorf("read %d bytes of %d", n, len(tc.stream))
			}
			if err != nil && n > tc.maxRead {
				t.Errorf("read %d bytes, more than %d", n, tc.maxRead)
			}
			if got := c.tooLarge.Load(); got != (err != nil) {
				t.Errorf("tooLarge = %v", got)
			}
		})
	}
}

func TestBoundedConnClampsDeadlines(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	c := &boundedConn{deadline: deadline}
	for _, tc := range []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"none is the dry-run's deadline", time.Time{}, deadline},
		{"a later one is the dry-run's deadline", deadline.Add(time.Minute), deadline},
		{"an earlier one stays", deadline.Add(-time.Minute), deadline.Add(-time.Minute)},
	} {
		if got := c.clamp(tc.in); !got.Equal(tc.want) {
			t.Errorf("%s: clamp = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// writeSink takes a client's writes and keeps nothing.
type writeSink struct{ net.Conn }

func (writeSink) Write(p []byte) (int, error) { return len(p), nil }

// clientPacket frames a client packet whose payload starts with capability flags.
func clientPacket(payloadLen int, seq byte, capabilities uint32) []byte {
	b := packet(payloadLen, seq)
	b[4], b[5], b[6], b[7] = byte(capabilities), byte(capabilities>>8), byte(capabilities>>16), byte(capabilities>>24)
	return b
}

// Once the client has asked for TLS, what the server sends is TLS records: their bytes
// are not read as packet headers (a record would often announce a huge packet), and
// maxRead still bounds them. Before that, and without that request, every header is.
func TestBoundedConnStopsInspectingOnceTLSBegins(t *testing.T) {
	const clientSSL, protocol41 = 0x800, 0x200
	sslRequest := clientPacket(32, 1, clientSSL|protocol41)
	tlsRecords := append([]byte{0xff, 0xff, 0xff, 0}, bytes.Repeat([]byte{0x17}, 4096)...)
	tests := []struct {
		name       string
		written    []byte
		writeChunk int
		maxRead    int
		wantErr    error
	}{
		{name: "after an SSLRequest", written: sslRequest, writeChunk: 64, maxRead: 1 << 20},
		{name: "after an SSLRequest written a byte at a time", written: sslRequest, writeChunk: 1, maxRead: 1 << 20},
		{name: "after an SSLRequest, still within maxRead", written: sslRequest, writeChunk: 64, maxRead: 1000, wantErr: errPacketTooLarge},
		{name: "after a handshake response", written: clientPacket(60, 1, protocol41), writeChunk: 64, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "after a 32-byte packet without CLIENT_SSL", written: clientPacket(32, 1, protocol41), writeChunk: 64, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "after a 32-byte packet of another sequence", written: clientPacket(32, 0, clientSSL|protocol41), writeChunk: 64, maxRead: 1 << 20, wantErr: errPacketTooLarge},
		{name: "before the client wrote", writeChunk: 64, maxRead: 1 << 20, wantErr: errPacketTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &boundedConn{Conn: writeSink{}, deadline: time.Now().Add(time.Second), maxPacket: 1000, maxRead: tc.maxRead}
			for rest := tc.written; len(rest) > 0; {
				n := min(tc.writeChunk, len(rest))
				if _, err := c.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			// Later writes (the TLS handshake) change nothing.
			if _, err := c.Write(bytes.Repeat([]byte{0x16}, 100)); err != nil {
				t.Fatal(err)
			}
			n, err := readAll(t, c, tlsRecords, 512)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v after %d bytes, want %v", err, n, tc.wantErr)
			}
			if err == nil && n != len(tlsRecords) {
				t.Errorf("read %d bytes of %d", n, len(tlsRecords))
			}
		})
	}
}
