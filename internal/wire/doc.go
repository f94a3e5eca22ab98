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
// # Versions
//
// Version 1 is the layout below. Version 2 is the same layout followed by
// extensions, which is how fields are added from now on: a decoder skips
// the extensions it does not know, so a node reads messages of newer nodes
// that add fields, and a rolling upgrade keeps delivering. Append writes
// version 2 only for a message that carries an extension (a numbered
// message, core.Sequence; a position; a trace context), and version 1
// otherwise; Decode reads both. A first byte above 2 means a layout this
// package cannot read (ErrVersion); the version byte changes only for such
// a layout.
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
// be zero; a decoder rejects a message that sets them as malformed (new
// fields come as extensions instead).
//
// An encoder sets a flag only when the field is non-empty (an except list
// only when it has at least one ID); a decoder also accepts a flagged field
// that is empty. MsgType is the int value converted to uint64, so a negative
// value takes ten bytes; on decode a value that does not fit in an int is
// malformed.
//
// # Extensions, version 2
//
// After Data, zero or more extensions fill the rest of the message, each a
// uvarint key K (not 0), a uvarint length L and L bytes of value. A decoder
// skips a value whose key it does not know and reads the fields it knows
// at the start of a value it does know, ignoring bytes after them (so an
// extension can grow). A known key twice is malformed.
//
//	| key | value                                                  |
//	|-----|--------------------------------------------------------|
//	| 1   | sequence (core.Sequence): Instance as 8 bytes, little- |
//	|     | endian; Epoch, uvarint; Number, uvarint, not 0         |
//	| 2   | position (core.Position) of a history room's message:  |
//	|     | Offset, uvarint, not 0; then the Epoch's bytes, which  |
//	|     | fill the rest of the value (1 to MaxEpochLen bytes of  |
//	|     | 0-9 A-Z a-z - _, as in a cursor)                       |
//
//	| 3   | trace context (core.AdapterMessage.Trace): 1 to        |
//	|     | core.MaxTraceContext bytes in the sending hub Tracer's |
//	|     | encoding, carried as they are                          |
//
// The position's epoch takes the rest of its value, so that extension
// cannot grow: a later field of history messages takes a new key. Stores
// that build messages outside Go (the Redis adapter's Lua script) append
// key 2 to an encoded message and set its first byte to 2.
//
// Limits a decoder enforces: every length must fit in the bytes that remain;
// an except count larger than the number of remaining bytes is malformed
// (each ID takes at least its length byte); a first byte of 0 is malformed,
// a first byte greater than Version is ErrVersion.
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
// Room "r", MsgType 1, Data "hi". Numbered 300 in epoch 1 of instance
// 0x0102030405060708, it is version 2 and 13 bytes longer:
//
//	02 03 01 02 'n' '1' 01 'r' 01 02 'h' 'i'
//	01 0b 08 07 06 05 04 03 02 01 01 ac 02
package wire
