package ldapdir

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cockroachdb/errors"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// DecodeSID turns AD's binary security identifier (MS-DTYP 2.4.2.2: revision, sub-authority
// count, 48-bit big-endian identifier authority, little-endian 32-bit sub-authorities) into its
// string form, S-1-5-21-…. A malformed value returns an ErrInvalid error. It is safe for concurrent
// use.
func DecodeSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errclass.Mark(directory.ErrInvalid, "objectSid: %d bytes, want at least 8", len(b))
	}
	n := int(b[1])
	if len(b) != 8+4*n {
		return "", errclass.Mark(directory.ErrInvalid, "objectSid: %d bytes for %d sub-authorities, want %d", len(b), n, 8+4*n)
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.WriteString("S-")
	sb.WriteString(strconv.Itoa(int(b[0])))
	sb.WriteByte('-')
	if auth < 1<<32 {
		sb.WriteString(strconv.FormatUint(auth, 10))
	} else {
		// MS-DTYP 2.4.2.1: authorities of 2^32 and above are written in hex.
		fmt.Fprintf(&sb, "0x%012X", auth)
	}
	for i := 0; i < n; i++ {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// DecodeGUID turns AD's 16-byte objectGUID into the canonical lower-case GUID string. AD stores a
// GUID in the Windows layout (MS-DTYP 2.3.4.2): the first three fields little-endian, the last
// eight bytes as they are. A value of the wrong length returns an ErrInvalid error. It is safe for
// concurrent use.
func DecodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", errclass.Mark(directory.ErrInvalid, "objectGUID: %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}

// EncodeGUID turns a GUID in its canonical string form into AD's 16-byte objectGUID (the Windows
// layout DecodeGUID reads). A string that is not a GUID returns an ErrInvalid error. It is safe
// for concurrent use.
func EncodeGUID(s string) ([]byte, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return nil, errclass.Mark(directory.ErrInvalid, "objectGUID: %q is not a GUID", s)
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(u[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(u[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(u[6:8]))
	copy(b[8:], u[8:])
	return b, nil
}

// adFilter returns filter as AD must receive it: an equality assertion on objectGUID whose value
// is a GUID in string form (as directory.Entry gives it, and as the engine asks for it) carries
// the GUID's 16 bytes instead, since AD compares objectGUID as binary and matches no string.
// Everything else is left as it is (AD reads objectSid in its S-1-… string form itself).
func adFilter(filter string) (string, error) {
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return "", err
	}
	changed := false
	var walk func(*ber.Packet)
	walk = func(p *ber.Packet) {
		if p.Tag == ldap.FilterEqualityMatch && len(p.Children) == 2 &&
			strings.EqualFold(ber.DecodeString(p.Children[0].Data.Bytes()), "objectGUID") {
			if b, err := EncodeGUID(ber.DecodeString(p.Children[1].Data.Bytes())); err == nil {
				v := ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(b), "Condition")
				p.Children[1] = v
				changed = true
			}
			return
		}
		for _, c := range p.Children {
			walk(c)
		}
	}
	walk(p)
	if !changed {
		return filter, nil
	}
	return ldap.DecompileFilter(p)
}

// EscapeFilter escapes a value for use inside an RFC 4515 search filter ("*", "(", ")", "\" and
// NUL become \2a, \28, \29, \5c, \00), so a user-supplied name cannot change the filter's meaning.
// It is safe for concurrent use.
func EscapeFilter(value string) string {
	return ldap.EscapeFilter(value)
}

// encodePassword returns the value AD expects in unicodePwd: the password in double quotes,
// encoded as UTF-16LE (MS-ADTS 3.1.1.3.1.5.1). The error never contains the password.
func encodePassword(password string) ([]byte, error) {
	if password == "" {
		return nil, errclass.Mark(directory.ErrInvalid, "the new password is empty")
	}
	if !utf8.ValidString(password) {
		return nil, errclass.Mark(directory.ErrInvalid, "the new password is not valid UTF-8")
	}
	units := utf16.Encode([]rune(`"` + password + `"`))
	out := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(out[2*i:], u)
	}
	return out, nil
}

// binaryDecoders turn AD's binary attributes into the string forms directory.Entry promises. Keys
// are lower case.
var binaryDecoders = map[string]func([]byte) (string, error){
	"objectsid":  DecodeSID,
	"sidhistory": DecodeSID,
	"objectguid": DecodeGUID,
}

// convertEntry turns a go-ldap entry into a directory.Entry, decoding SIDs and GUIDs.
func convertEntry(e *ldap.Entry) (*directory.Entry, error) {
	out := &directory.Entry{DN: e.DN, Attributes: make(map[string][]string, len(e.Attributes))}
	for _, a := range e.Attributes {
		dec, ok := binaryDecoders[strings.ToLower(a.Name)]
		if !ok {
			out.Attributes[a.Name] = a.Values
			continue
		}
		vals := make([]string, 0, len(a.ByteValues))
		for _, raw := range a.ByteValues {
			s, err := dec(raw)
			if err != nil {
				return nil, errors.Wrapf(err, "entry %q", e.DN)
			}
			vals = append(vals, s)
		}
		out.Attributes[a.Name] = vals
	}
	return out, nil
}
