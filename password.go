package opa

import (
	"io"
	"slices"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Character classes of generated passwords. Punctuation is the OWASP list of special characters.
const (
	upperChars       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars       = "abcdefghijklmnopqrstuvwxyz"
	digitChars       = "0123456789"
	punctuationChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// Limits of a password policy's lengths (in bytes; generated passwords are ASCII).
const (
	MinPasswordLength = 8
	MaxPasswordLength = 255
)

// passwordClasses returns the character sets pol enables, with its excluded symbols removed.
func passwordClasses(pol storage.PasswordPolicy) []string {
	var classes []string
	add := func(on bool, set string) {
		if !on {
			return
		}
		set = strings.Map(func(r rune) rune {
			if slices.Contains(pol.ExcludeCertainSymbols, string(r)) {
				return -1
			}
			return r
		}, set)
		if set != "" {
			classes = append(classes, set)
		}
	}
	add(pol.UpperCase, upperChars)
	add(pol.LowerCase, lowerChars)
	add(pol.Digits, digitChars)
	add(pol.Punctuation, punctuationChars)
	return classes
}

// validatePasswordPolicy checks the character and length options of pol. ErrInvalid on failure.
func validatePasswordPolicy(pol storage.PasswordPolicy) error {
	classes := passwordClasses(pol)
	if len(classes) == 0 {
		return invalidf("the password policy must enable at least one character class that is not fully excluded")
	}
	if pol.MinLength < MinPasswordLength || pol.MaxLength > MaxPasswordLength || pol.MinLength > pol.MaxLength {
		return invalidf("password lengths must satisfy %d <= min_length_in_bytes <= max_length_in_bytes <= %d",
			MinPasswordLength, MaxPasswordLength)
	}
	if pol.MinLength < len(classes) {
		return invalidf("min_length_in_bytes must be at least the number of character classes (%d)", len(classes))
	}
	for _, s := range pol.ExcludeCertainSymbols {
		if len(s) != 1 {
			return invalidf("exclude_certain_symbols entries must be single characters")
		}
	}
	return nil
}

// GeneratePassword returns a password that satisfies pol's lengths and character options: a
// length drawn uniformly from [MinLengthInBytes, MaxLengthInBytes], at least one character of every
// class CharacterOptions enables, no excluded symbol, every character drawn uniformly (rejection
// sampling, no modulo bias) from rnd, which should be crypto/rand.Reader. The rotation settings of
// pol are not read. ErrInvalid for lengths outside MinPasswordLength–MaxPasswordLength, min above
// max or no usable character class; a read error of rnd is returned wrapped. It is safe for
// concurrent use if rnd is.
func GeneratePassword(rnd io.Reader, pol ProjectPasswordPolicy) (string, error) {
	co := pol.CharacterOptions
	return generatePassword(rnd, storage.PasswordPolicy{
		UpperCase: co.UpperCase, LowerCase: co.LowerCase, Digits: co.Digits, Punctuation: co.Punctuation,
		ExcludeCertainSymbols: co.ExcludeCertainSymbols, MinLength: pol.MinLengthInBytes, MaxLength: pol.MaxLengthInBytes,
	})
}

// generatePassword is GeneratePassword for a policy as stored.
func generatePassword(rnd io.Reader, pol storage.PasswordPolicy) (string, error) {
	if err := validatePasswordPolicy(pol); err != nil {
		return "", err
	}
	classes := passwordClasses(pol)
	all := strings.Join(classes, "")
	r := byteSource{r: rnd}
	n := pol.MinLength
	if span := pol.MaxLength - pol.MinLength; span > 0 {
		k, err := r.uniform(span + 1)
		if err != nil {
			return "", err
		}
		n += k
	}
	out := make([]byte, n)
	for i := range out {
		set := all
		if i < len(classes) {
			set = classes[i] // one of each class first, then shuffled into place
		}
		k, err := r.uniform(len(set))
		if err != nil {
			return "", err
		}
		out[i] = set[k]
	}
	for i := len(out) - 1; i > 0; i-- { // Fisher-Yates
		j, err := r.uniform(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// byteSource draws uniform small integers from a random byte stream.
type byteSource struct {
	r   io.Reader
	buf [64]byte
	pos int
	n   int
}

func (b *byteSource) byte() (byte, error) {
	if b.pos == b.n {
		n, err := io.ReadFull(b.r, b.buf[:])
		if err != nil {
			return 0, errors.Wrap(err, "reading randomness for a password")
		}
		b.pos, b.n = 0, n
	}
	c := b.buf[b.pos]
	b.pos++
	return c, nil
}

// uniform returns an integer in [0, n), n <= 256, without modulo bias.
func (b *byteSource) uniform(n int) (int, error) {
	if n <= 1 {
		return 0, nil
	}
	limit := 256 - 256%n
	for {
		c, err := b.byte()
		if err != nil {
			return 0, err
		}
		if int(c) < limit {
			return int(c) % n, nil
		}
	}
}
