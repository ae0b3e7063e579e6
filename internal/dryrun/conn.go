package dryrun

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// errPacketTooLarge: the server announced a packet larger than a dry-run ever needs.
var errPacketTooLarge = errors.New("the server sent a packet larger than a dry-run reads")

// boundedConn is a dry-run's socket. It bounds the dry-run by construction, whatever the
// server does:
//   - no read or write outlives deadline: the driver's own deadlines (per operation, or
//     none at all while database/sql drains a result) are clamped to it;
//   - no more than maxRead bytes are read in all;
//   - while the stream is plain MySQL protocol (compression is always off), the header
//     of every packet is inspected before the driver sees it, and a packet longer than
//     maxPacket fails the read: go-sql-driver allocates a buffer of the announced length
//     before reading a packet, so a 16 MiB row must be refused at its header. Once the
//     client has asked for TLS the stream is TLS records, whose headers say nothing of
//     the packets inside, and only maxRead applies.
//
// Whether the stream is TLS is read off the wire, not off the driver's configuration:
// with tls=preferred the driver decides only after the server's greeting, and before it
// normalizes a configuration its TLS field is nil whatever the DSN says.
type boundedConn struct {
	net.Conn
	deadline  time.Time
	maxPacket int // 0: packets are not inspected
	maxRead   int

	// The client's first packet, up to its capability flags: an SSLRequest means that
	// TLS follows. Written and read on the driver's goroutine, in the connection phase.
	firstPacket [8]byte
	firstLen    int
	encrypted   atomic.Bool

	// Reads are sequential (the driver reads one packet at a time); only tooLarge is
	// looked at from another goroutine.
	read        int
	header      [4]byte
	headerLen   int // bytes of the current packet header seen so far
	payloadLeft int // bytes of the current packet's payload still to come
	tooLarge    atomic.Bool
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.tooLarge.Load() {
		return 0, errPacketTooLarge
	}
	if room := c.maxRead - c.read; len(p) > room {
		if room <= 0 {
			c.tooLarge.Store(true)
			return 0, errPacketTooLarge
		}
		p = p[:room]
	}
	n, err := c.Conn.Read(p)
	c.read += n
	if c.maxPacket > 0 && !c.encrypted.Load() && !c.inspect(p[:n]) {
		c.tooLarge.Store(true)
		return 0, errPacketTooLarge
	}
	return n, err
}

// inspect follows the packet framing through b (3-byte little-endian payload length, then
// a sequence number) and reports false when a packet is longer than maxPacket.
func (c *boundedConn) inspect(b []byte) bool {
	for len(b) > 0 {
		if c.payloadLeft > 0 {
			skip := min(c.payloadLeft, len(b))
			c.payloadLeft -= skip
			b = b[skip:]
			continue
		}
		c.header[c.headerLen] = b[0]
		c.headerLen++
		b = b[1:]
		if c.headerLen == len(c.header) {
			c.headerLen = 0
			c.payloadLeft = int(c.header[0]) | int(c.header[1])<<8 | int(c.header[2])<<16
			if c.payloadLeft > c.maxPacket {
				return false
			}
		}
	}
	return true
}

func (c *boundedConn) Write(p []byte) (int, error) {
	if c.firstLen < len(c.firstPacket) {
		c.firstLen += copy(c.firstPacket[c.firstLen:], p)
		if c.firstLen == len(c.firstPacket) && isSSLRequest(c.firstPacket) {
			c.encrypted.Store(true)
		}
	}
	return c.Conn.Write(p)
}

// isSSLRequest reports whether a client's first packet (header and capability flags) is
// an SSLRequest: a 32-byte payload, sequence 1, CLIENT_SSL set. The full handshake
// response is always longer (it holds the user name after the same 32 bytes).
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
func isSSLRequest(first [8]byte) bool {
	const clientSSL = 0x800
	payloadLen := int(first[0]) | int(first[1])<<8 | int(first[2])<<16
	capabilities := uint32(first[4]) | uint32(first[5])<<8 | uint32(first[6])<<16 | uint32(first[7])<<24
	return payloadLen == 32 && first[3] == 1 && capabilities&clientSSL != 0
}

func (c *boundedConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.deadline) {
		return c.deadline
	}
	return t
}

func (c *boundedConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *boundedConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}
