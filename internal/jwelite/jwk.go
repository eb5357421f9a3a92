package jwelite

// PublicJWK is the public key a reveal request sends (RFC 7517 §4): kty EC with crv, x and y, or
// kty RSA with n and e; "alg" and "use":"enc" always set, and "kid" (the RFC 7638 thumbprint) once
// the caller has hashed ThumbprintInput.
type PublicJWK struct {
	Kty, Crv, X, Y, N, E string
	Alg, Use, Kid        string
}

// NewPublicJWK returns the public JWK of a key given by its public members only (as WebCrypto's
// exportKey("jwk") of a public key, or crypto/ecdh, produce them): for "EC" crv ("P-256" or
// "P-384"), x and y of the curve's size; for "RSA" n of 2048 to 4096 bits and e. It checks their
// sizes and sets "alg" (ECDH-ES or RSA-OAEP-256) and "use":"enc"; it never carries a private
// member, whatever else the input had. Kid is left empty. Errors wrap ErrInvalidArgument.
func NewPublicJWK(kty, crv, x, y, n, e string) (*PublicJWK, error) {
	j := &PublicJWK{Kty: kty, Use: "enc"}
	switch kty {
	case "EC":
		size := CoordinateBytes(crv)
		xb, errX := b64.DecodeString(x)
		yb, errY := b64.DecodeString(y)
		if size == 0 || errX != nil || errY != nil || len(xb) != size || len(yb) != size {
			return nil, invalidArg("EC public key on P-256 or P-384 expected")
		}
		j.Crv, j.X, j.Y, j.Alg = crv, x, y, AlgECDHES
	case "RSA":
		nb, errN := b64.DecodeString(n)
		eb, errE := b64.DecodeString(e)
		if errN != nil || errE != nil || len(nb) < 256 || len(nb) > 512 || nb[0] == 0 || len(eb) == 0 || len(eb) > 8 || eb[0] == 0 {
			return nil, invalidArg("RSA public key of 2048 to 4096 bits expected")
		}
		j.N, j.E, j.Alg = n, e, AlgRSAOAEP256
	default:
		return nil, invalidArg("key type must be EC or RSA")
	}
	return j, nil
}

// ThumbprintInput returns what the RFC 7638 thumbprint hashes: the JSON object of the key's
// required members in lexicographic order without whitespace (§3.2). The values are validated
// base64url strings and fixed names, none needing escapes, so this concatenation is exactly that
// serialization. The kid is base64url(SHA-256(ThumbprintInput())).
func (j *PublicJWK) ThumbprintInput() []byte {
	if j.Kty == "EC" {
		return []byte(`{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`)
	}
	return []byte(`{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`)
}

// SetKid sets "kid" from the SHA-256 of ThumbprintInput.
func (j *PublicJWK) SetKid(sha256 []byte) { j.Kid = b64.EncodeToString(sha256) }

// Members returns the JWK's members as name/value pairs in a stable order, without the empty ones:
// the public JWK as a reveal request's public_key holds it.
func (j *PublicJWK) Members() [][2]string {
	var out [][2]string
	for _, m := range [][2]string{{"kty", j.Kty}, {"crv", j.Crv}, {"x", j.X}, {"y", j.Y}, {"n", j.N}, {"e", j.E}, {"alg", j.Alg}, {"use", j.Use}, {"kid", j.Kid}} {
		if m[1] != "" {
			out = append(out, m)
		}
	}
	return out
}
