package opa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Certificate types and statuses of AD smart-card certificates (docs/wire.md#certificates).
const (
	CertificateTypeSigningRequest = "certificate_signing_request"
	CertificateTypeSelfSigned     = "self_signed"
	CertificateRequestCreated     = "request_created"
	CertificateValid              = "valid"
)

// purposeCertificateKey is the purpose of a certificate's sealed private key.
const purposeCertificateKey = "certificate.private_key"

// Certificate is an AD smart-card (passwordless) certificate of a team, as the API shows it: a
// certificate signing request (Type CertificateTypeSigningRequest, Status
// CertificateRequestCreated, Content the PEM request) until its signed certificate is uploaded
// (Status CertificateValid, Content the PEM certificate), or a self-signed certificate (Status
// CertificateValid from the start). The private key never leaves the engine. ExpiresAt is zero
// while no certificate exists.
type Certificate struct {
	ID               string    `json:"id"`
	DisplayName      string    `json:"display_name"`
	CommonName       string    `json:"common_name"`
	Type             string    `json:"type"`
	Status           string    `json:"status"`
	EnterpriseSigned bool      `json:"enterprise_signed"`
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at,omitzero"`
	Content          string    `json:"content"`
}

// CertificateInput asks for a certificate: a signing request with the subject fields, or a
// self-signed certificate valid for TTLDays (1–3650; 0: 365).
type CertificateInput struct {
	DisplayName        string
	CommonName         string
	Type               string
	Organization       string
	OrganizationalUnit string
	Locality           string
	Province           string
	Country            string
	TTLDays            int
}

// Limits of certificate requests (decided here: docs/wire.md#certificates).
const (
	defaultCertificateTTLDays = 365
	maxCertificateTTLDays     = 3650
	maxCertificateUpload      = 64 << 10
)

func (in CertificateInput) check() error {
	if strings.TrimSpace(in.DisplayName) == "" || len(in.DisplayName) > 255 {
		return invalidf("display_name must be 1-255 characters")
	}
	if strings.TrimSpace(in.CommonName) == "" || len(in.CommonName) > 64 {
		return invalidf("common_name must be 1-64 characters")
	}
	subject := in.Organization + in.OrganizationalUnit + in.Locality + in.Province + in.Country
	for _, f := range []string{in.Organization, in.OrganizationalUnit, in.Locality, in.Province} {
		if len(f) > 128 {
			return invalidf("the details' subject fields are at most 128 characters")
		}
	}
	if strings.ContainsAny(in.DisplayName+in.CommonName+subject, "\x00\n\r") {
		return invalidf("display_name, common_name and the details are one line each")
	}
	switch in.Type {
	case CertificateTypeSigningRequest:
		if in.TTLDays != 0 {
			return invalidf("ttl_days belongs to self_signed certificates (the signer of a request sets its lifetime)")
		}
		if in.Country != "" && len(in.Country) != 2 {
			return invalidf("country is a two-letter code")
		}
	case CertificateTypeSelfSigned:
		if subject != "" {
			return invalidf("a self_signed certificate takes only ttl_days in its details")
		}
		if in.TTLDays < 0 || in.TTLDays > maxCertificateTTLDays {
			return invalidf("ttl_days must be between 1 and %d", maxCertificateTTLDays)
		}
	default:
		return invalidf("unknown type %q (want certificate_signing_request or self_signed)", in.Type)
	}
	return nil
}

func certificateOf(c *storage.Certificate) Certificate {
	return Certificate{ID: c.ID, DisplayName: c.DisplayName, CommonName: c.CommonName, Type: c.Type, Status: c.Status,
		EnterpriseSigned: c.EnterpriseSigned, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, Content: c.Content}
}

// CreateCertificate makes a key pair (ECDSA P-256, with crypto/ecdsa) and either a certificate
// signing request for it (x509.CreateCertificateRequest; subject CN=common_name plus the details)
// or a self-signed client-authentication certificate (x509.CreateCertificate), keeping the private
// key sealed. Needs resource_admin. ErrInvalid for bad input. Safe for concurrent use.
func (e *Engine) CreateCertificate(ctx context.Context, p Principal, in CertificateInput) (Certificate, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return Certificate{}, err
	}
	if err := in.check(); err != nil {
		return Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Certificate{}, errors.Wrap(err, "generating the certificate key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Certificate{}, errors.Wrap(err, "encoding the certificate key")
	}
	now := e.now()
	c := storage.Certificate{ID: e.newID(), TeamID: p.TeamID, DisplayName: in.DisplayName, CommonName: in.CommonName,
		Type: in.Type, CreatedAt: now}
	subject := pkix.Name{CommonName: in.CommonName}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	add(&subject.Organization, in.Organization)
	add(&subject.OrganizationalUnit, in.OrganizationalUnit)
	add(&subject.Locality, in.Locality)
	add(&subject.Province, in.Province)
	add(&subject.Country, in.Country)
	if in.Type == CertificateTypeSigningRequest {
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
		if err != nil {
			return Certificate{}, errors.Wrap(err, "creating the certificate signing request")
		}
		c.Status, c.EnterpriseSigned = CertificateRequestCreated, true
		c.Content = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	} else {
		days := in.TTLDays
		if days == 0 {
			days = defaultCertificateTTLDays
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return Certificate{}, errors.Wrap(err, "choosing a serial number")
		}
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: now.Add(-time.Minute),
			NotAfter: now.Add(time.Duration(days) * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}
		cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return Certificate{}, errors.Wrap(err, "creating the self-signed certificate")
		}
		c.Status, c.ExpiresAt = CertificateValid, tmpl.NotAfter.UTC()
		c.Content = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
	}
	c.PrivateKey = e.seal.seal(string(der), purposeCertificateKey, c.ID)
	err = e.store.Update(ctx, func(tx storage.WriteTx) error { return storage.Certificates.Insert(tx, &c) })
	if err != nil {
		return Certificate{}, err
	}
	return certificateOf(&c), nil
}

// Certificate returns a certificate of p's team by id. Needs resource_admin or security_admin.
// ErrNotFound for an unknown id. Safe for concurrent use.
func (e *Engine) Certificate(ctx context.Context, p Principal, id string) (Certificate, error) {
	if err := p.requireConnRead(); err != nil {
		return Certificate{}, err
	}
	var out Certificate
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := teamCertificate(tx, p, id)
		if err == nil {
			out = certificateOf(c)
		}
		return err
	})
	return out, err
}

// RenameCertificate sets a certificate's display name (the one thing an update changes). Needs
// resource_admin. ErrNotFound, ErrInvalid (a display name of 1–255 characters, one line). Safe for
// concurrent use.
func (e *Engine) RenameCertificate(ctx context.Context, p Principal, id, displayName string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := teamCertificate(tx, p, id)
		if err != nil {
			return err
		}
		in := CertificateInput{DisplayName: displayName, CommonName: c.CommonName, Type: CertificateTypeSelfSigned}
		if err := in.check(); err != nil {
			return err
		}
		c.DisplayName = displayName
		return storage.Certificates.Update(tx, c)
	})
}

// DeleteCertificate deletes a certificate and its key (a hard delete). Needs resource_admin.
// ErrNotFound for an unknown id; ErrConflict while an AD connection uses it. Safe for concurrent
// use.
func (e *Engine) DeleteCertificate(ctx context.Context, p Principal, id string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := teamCertificate(tx, p, id)
		if err != nil {
			return err
		}
		conns, err := storage.Connections.BorrowList(tx, storage.ConnectionsByTeam, p.TeamID)
		if err != nil {
			return err
		}
		for _, conn := range conns {
			if conn.CertificateID == c.ID {
				return conflictf("certificate %q is used by AD connection %q", c.DisplayName, conn.Name)
			}
		}
		return storage.Certificates.Delete(tx, c.ID)
	})
}

// UploadCertificate completes a certificate signing request with its signed certificate: one PEM
// "CERTIFICATE" block for the request's public key, valid now. The certificate becomes
// CertificateValid with the upload as its content and its NotAfter as ExpiresAt. Needs
// resource_admin. Errors: ErrNotFound; ErrInvalid for an upload that is not such a certificate;
// ErrConflict when the certificate is not a request awaiting its certificate. Safe for concurrent
// use.
func (e *Engine) UploadCertificate(ctx context.Context, p Principal, id string, content []byte) (Certificate, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return Certificate{}, err
	}
	if len(content) > maxCertificateUpload {
		return Certificate{}, invalidf("the certificate is larger than %d bytes", maxCertificateUpload)
	}
	block, _ := pem.Decode(content)
	if block == nil || block.Type != "CERTIFICATE" {
		return Certificate{}, invalidf("the upload is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return Certificate{}, invalidf("the upload is not a well-formed X.509 certificate")
	}
	var out Certificate
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := teamCertificate(tx, p, id)
		if err != nil {
			return err
		}
		if c.Type != CertificateTypeSigningRequest || c.Status != CertificateRequestCreated {
			return conflictf("certificate %q is not a signing request awaiting its certificate", id)
		}
		reqBlock, _ := pem.Decode([]byte(c.Content))
		if reqBlock == nil {
			return errors.AssertionFailedf("certificate %s holds no PEM request", c.ID)
		}
		csr, err := x509.ParseCertificateRequest(reqBlock.Bytes)
		if err != nil {
			return errors.Wrap(err, "reading the stored certificate request")
		}
		pub, ok := csr.PublicKey.(interface{ Equal(x crypto.PublicKey) bool })
		if !ok || !pub.Equal(cert.PublicKey) {
			return invalidf("the certificate is not for this request's key")
		}
		if now := e.now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			return invalidf("the certificate is not valid now")
		}
		c.Status, c.ExpiresAt = CertificateValid, cert.NotAfter.UTC()
		c.Content = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
		if err := storage.Certificates.Update(tx, c); err != nil {
			return err
		}
		out = certificateOf(c)
		return nil
	})
	return out, err
}

// teamCertificate returns the certificate of p's team with the id (ErrNotFound otherwise, for
// another team's too).
func teamCertificate(tx storage.ReadTx, p Principal, id string) (*storage.Certificate, error) {
	c, err := storage.Certificates.Get(tx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if err != nil || c.TeamID != p.TeamID {
		return nil, notFoundf("certificate %q does not exist", id)
	}
	return c, nil
}
