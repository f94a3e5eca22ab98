// Package wire is the binary envelope in which this module's adapters put a
// core.AdapterMessage on a message bus (NATS, Redis, the in-memory bus).
//
// Append encodes, Decode decodes. Decode treats its input as untrusted: it
// never panics, it rejects anything that is not exactly one well-formed
// message with an error wrapping ErrMalformed, and it rejects a message
// written by a newer version of the format with an error wrapping ErrVersion.
// The decoded message shares no memory with the input, so a receiver may
// reuse its read buffer as soon as Decode returns.
//
// The package starts no goroutines and holds no state; all functions are safe
// for concurrent use.
//
// # Layout, version 1
//
// A message is the following fields, in this order, with nothing after the
// last one. "uvarint" is an unsigned LEB128 varint as written by
// encoding/binary.AppendUvarint. "str" is a uvarint byte length L followed by
// L bytes (not checked for UTF-8).
//
//	| field       | encoding             | present when                     |
//	|-------------|----------------------|----------------------------------|
//	| version     | 1 byte, value 1      | always                           |
//	| type code   | 1 byte, see below    | always                           |
//	| flags       | 1 byte, see below    | always                           |
//	| type name   | str                  | type code is 0                   |
//	| NodeID      | str                  | always                           |
//	| Room        | str                  | flags & 0x01                     |
//	| UserID      | str                  | flags & 0x02                     |
//	| ClientID    | str                  | flags & 0x04                     |
//	| except IDs  | uvarint count N,     | flags & 0x08                     |
//	|             | then N x str         |                                  |
//	| MsgType     | uvarint              | always                           |
//	| Data        | uvarint length L,    | always (L may be 0)              |
//	|             | then L bytes         |                                  |
//
// Type codes name the core.Adapter* constants:
//
//	| code | Type                             |
//	|------|----------------------------------|
//	| 0    | any other string, written after  |
//	|      | the flags as "type name"         |
//	| 1    | core.AdapterBroadcast            |
//	| 2    | core.AdapterBroadcastExcept      |
//	| 3    | core.AdapterRoom                 |
//	| 4    | core.AdapterRoomExcept           |
//	| 5    | core.AdapterUser                 |
//	| 6    | core.AdapterClient               |
//	| 7    | core.AdapterPresence             |
//
// Codes 8 to 255 are malformed. Flag bits 0x10 to 0x80 are reserved and must
// be zero; a version 1 decoder rejects a message that sets them as malformed
// (a format that adds fields takes a new version number).
//
// An encoder sets a flag only when the field is non-empty (an except list
// only when it has at least one ID); a decoder also accepts a flagged field
// that is empty. MsgType is the int value converted to uint64, so a negative
// value takes ten bytes; on decode a value that does not fit in an int is
// malformed.
//
// Limits a decoder enforces: every length must fit in the bytes that remain;
// an except count larger than the number of remaining bytes is malformed
// (each ID takes at least its length byte); a first byte of 0 is malformed,
// a first byte greater than 1 is ErrVersion.
//
// # Empty values
//
// Empty and nil are not told apart on the wire: an empty or nil Data decodes
// as nil, and an empty or nil ExceptClientIDs decodes as nil.
//
// # Example
//
// A room message from node "n1" to room "r" with text payload "hi"
// (MsgType 1) is 12 bytes:
//
//	01 03 01 02 'n' '1' 01 'r' 01 02 'h' 'i'
//
// that is version 1, type code 3 (room), flags 0x01 (Room), NodeID "n1",
// Room "r", MsgType 1, Data "hi".
package wire
