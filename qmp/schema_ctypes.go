package qmp

import (
	"math"
	"strings"

	"github.com/jobfsm/jobfsm/internal/qerr"
)

// intCTypes names the argument members whose QAPI type is an integer other
// than 'int' (int64). query-qmp-schema reports every integer type as "int",
// so the recorded schema cannot tell them apart; the list comes from
// probing qemu-storage-daemon 7.2 with every integer member of every
// command jobsim implements (a string, 1.5, -1, 2^32, 2^64-1 and 2^64 each)
// and keeping the members whose answers differ from int64's (10.0.13 gives
// the same answers to the same probes, so the list holds for both
// versions). A member name is enough: no int64 member of those commands
// shares one of these names.
var intCTypes = map[string]string{
	"latency-ns":                "uint64", // null-co, null-aio
	"log-super-update-interval": "uint64", // blklogwrites
	"log-sector-size":           "uint32", // blklogwrites
	"cbw-timeout":               "uint32", // copy-before-write
	"reconnect-delay":           "uint32", // nbd
	"open-timeout":              "uint32", // nbd
	"granularity":               "uint32", // blockdev-mirror, block-dirty-bitmap-add
	"to":                        "uint16", // InetSocketAddress (nbd, ssh servers)
	"max-transfer":              "int32",  // blkdebug
	"opt-write-zero":            "int32",
	"max-write-zero":            "int32",
	"opt-discard":               "int32",
	"max-discard":               "int32",
}

// checkCInt is the qobject input visitor on a sized integer member:
// visit_type_uint64 (and visit_type_uintN above it) or visit_type_intN
// above visit_type_int64. The type error names the full path; the range
// error of the narrower types names the bare member ("null" for a list
// element), because visit_type_uintN/intN get only the member's own name.
func checkCInt(v any, ctype, name string, inList bool) error {
	bare := bareName(name)
	if inList {
		bare = "null"
	}
	n, isNum := v.(Number)
	if ctype == "int32" {
		if !isNum || n.Kind != NumInt {
			return typeErr(name, "integer")
		}
		if n.I < math.MinInt32 || n.I > math.MaxInt32 {
			return qerr.Generic("Parameter '%s' expects int32_t", bare)
		}
		return nil
	}
	// qobject_input_type_uint64: a negative int64 is accepted (and
	// wraps) for backward compatibility; doubles and non-numbers are not.
	var u uint64
	switch {
	case isNum && n.Kind == NumInt:
		u = uint64(n.I)
	case isNum && n.Kind == NumUint:
		u = n.U
	default:
		return qerr.Generic("Parameter '%s' expects uint64", name)
	}
	switch ctype {
	case "uint32":
		if u > math.MaxUint32 {
			return qerr.Generic("Parameter '%s' expects uint32_t", bare)
		}
	case "uint16":
		if u > math.MaxUint16 {
			return qerr.Generic("Parameter '%s' expects uint16_t", bare)
		}
	}
	return nil
}

// bareName is a member's own name without its path.
func bareName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}
