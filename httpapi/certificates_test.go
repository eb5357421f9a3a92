package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa/storage"
)

// The bodies Okta's provider sends for oktapam_ad_certificate_request
// (resource_ad_certificate_request.go, client.ADSmartCardCertificate): unset details are left out.
const (
	tfCSRCreate = `{"display_name":"test-acc-csr-x","common_name":"testacc","type":"certificate_signing_request",` +
		`"details":{"organization":"Okta","organizational_unit":"Okta Unit","locality":"San Francisco","province":"CA","country":"US"}}`
	tfSelfSignedCreate = `{"display_name":"test-acc-self-signed-cert-x","common_name":"testacc","type":"self_signed","details":{"ttl_days":90}}`
)

// tfCertificate decodes a certificate the way the provider's ADSmartCardCertificate does.
type tfCertificate struct {
	ID               *string    `json:"id"`
	DisplayName      *string    `json:"display_name"`
	CommonName       *string    `json:"common_name"`
	Type             *string    `json:"type"`
	Status           *string    `json:"status"`
	EnterpriseSigned *bool      `json:"enterprise_signed"`
	CreatedAt        *time.Time `json:"created_at"`
	ExpiresAt        *time.Time `json:"expires_at"`
	Content          *string    `json:"content"`
}

// wantCertificate checks an answer as the provider reads it: the fields its Read dereferences
// (id, status, enterprise_signed, content) are present, and no private key is.
func wantCertificate(t *testing.T, r response, status string, enterprise bool) tfCertificate {
	t.Helper()
	var c tfCertificate
	r.json(t, &c)
	if c.ID == nil || !uuidV4.MatchString(*c.ID) || c.Status == nil || *c.Status != status || c.EnterpriseSigned == nil ||
		*c.EnterpriseSigned != enterprise || c.Content == nil || c.CreatedAt == nil {
		t.Fatalf("certificate %s, want status %s, enterprise_signed %v", r.body, status, enterprise)
	}
	if s := string(r.body); strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "private_key") {
		t.Fatalf("the private key is in an answer: %s", s)
	}
	return c
}

// upload sends what the provider's UploadADSmartcardCertificate sends: a multipart body whose
// "file" part (file name cert-upload-tf, type multipart/form-data) is the PEM certificate.
func (e *env) upload(role, id, field string, content []byte) response {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="cert-upload-tf"`)
	h.Set("Content-Type", "multipart/form-data")
	part, err := mw.CreatePart(h)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = part.Write(content)
	_ = mw.Close()
	req, err := http.NewRequest("POST", e.srv.TeamURL("/certificates/"+id+"/upload"), &b)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// signCSR signs the PEM request as a fresh CA would (what the test's tls_locally_signed_cert
// does), valid for 12 hours from now on the server's clock.
func signCSR(t *testing.T, csrPEM string, now time.Time) []byte {
	t.Helper()
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("content is not a PEM certificate request: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("request: %v", err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: csr.Subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, csr.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestCertificateRequestCSR drives oktapam_ad_certificate_request (CSR) and
// oktapam_ad_certificate_object: create answers 201 with a real PEM request for the subject, the
// signed certificate is uploaded (200) and the request becomes a valid, enterprise-signed
// certificate; rename, delete and every documented error, each leaving the certificate as it was.
func TestCertificateRequestCSR(t *testing.T) {
	e := newEnv(t)
	created := wantCertificate(t, e.must(201, "resource", "POST", "/certificates/json", tfCSRCreate), "request_created", true)
	id := *created.ID
	block, _ := pem.Decode([]byte(*created.Content))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s := csr.Subject
	if s.CommonName != "testacc" || s.Organization[0] != "Okta" || s.OrganizationalUnit[0] != "Okta Unit" ||
		s.Locality[0] != "San Francisco" || s.Province[0] != "CA" || s.Country[0] != "US" {
		t.Fatalf("subject %v", s)
	}
	if created.ExpiresAt != nil {
		t.Errorf("a request has expires_at %v", created.ExpiresAt)
	}
	// The private key is stored sealed: not a parsable key.
	_ = e.srv.Engine().Store().View(context.Background(), func(tx storage.ReadTx) error {
		rec, err := storage.Certificates.Get(tx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, perr := x509.ParsePKCS8PrivateKey(rec.PrivateKey); len(rec.PrivateKey) == 0 || perr == nil {
			t.Fatalf("the stored private key is not sealed (%d bytes)", len(rec.PrivateKey))
		}
		return nil
	})
	path := "/certificates/" + id
	wantCertificate(t, e.must(200, "security", "GET", path, nil), "request_created", true)
	e.must(401, "end_user", "GET", path, nil)
	e.must(404, "all", "GET", "/certificates/00000000-0000-4000-8000-000000000000", nil)

	runSteps(t, e, []step{
		{"rename", "resource", "PUT", path, `{"display_name":"renamed"}`, 204, nil},
		{"rename empty", "all", "PUT", path, `{"display_name":""}`, 400, nil},
		{"rename without display_name", "all", "PUT", path, `{}`, 400, nil},
		{"rename as security admin", "security", "PUT", path, `{"display_name":"x"}`, 401, nil},
		{"rename unknown", "all", "PUT", "/certificates/00000000-0000-4000-8000-000000000000", `{"display_name":"x"}`, 404, nil},
		{"renamed", "all", "GET", path, nil, 200, func(t *testing.T, r response) {
			if c := wantCertificate(t, r, "request_created", true); *c.DisplayName != "renamed" || *c.Content != *created.Content {
				t.Errorf("after the renames: %s", r.body)
			}
		}},
	})

	now := e.srv.Clock.Now()
	other := signCSR(t, strings.TrimSpace(*wantCertificate(t, e.must(201, "all", "POST", "/certificates/json", tfCSRCreate), "request_created", true).Content), now)
	for _, tc := range []struct {
		name, role, field string
		content           []byte
		want              int
	}{
		{"not PEM", "all", "file", []byte("hello"), 400},
		{"another request's certificate", "all", "file", other, 400},
		{"no file part", "all", "certificate", signCSR(t, *created.Content, now), 400},
		{"as security admin", "security", "file", signCSR(t, *created.Content, now), 401},
	} {
		t.Run("upload "+tc.name, func(t *testing.T) {
			if r := e.upload(tc.role, id, tc.field, tc.content); r.status != tc.want {
				t.Fatalf("upload: %d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	e.must(400, "all", "POST", path+"/upload", `{"file":"x"}`) // not multipart
	wantCertificate(t, e.must(200, "all", "GET", path, nil), "request_created", true)

	signed := signCSR(t, *created.Content, now)
	if r := e.upload("resource", id, "file", signed); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	got := wantCertificate(t, e.must(200, "all", "GET", path, nil), "valid", true)
	if *got.Content != string(signed) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(now.Add(12*time.Hour).Truncate(time.Second)) {
		t.Fatalf("after the upload: content %q, expires_at %v", *got.Content, got.ExpiresAt)
	}
	if r := e.upload("all", id, "file", signed); r.status != 409 {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}

	e.must(401, "security", "DELETE", path, nil)
	e.must(204, "resource", "DELETE", path, nil)
	e.must(404, "all", "GET", path, nil)
	e.must(404, "all", "DELETE", path, nil)
}

// TestCertificateSelfSigned: a self_signed request answers 201 with a valid certificate for
// ttl_days, not enterprise-signed, which accepts no upload; and the refused create bodies.
func TestCertificateSelfSigned(t *testing.T) {
	e := newEnv(t)
	c := wantCertificate(t, e.must(201, "all", "POST", "/certificates/json", tfSelfSignedCreate), "valid", false)
	block, _ := pem.Decode([]byte(*c.Content))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("content %q", *c.Content)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil || cert.Subject.CommonName != "testacc" {
		t.Fatalf("certificate %v, %v", cert, err)
	}
	if want := e.srv.Clock.Now().Add(90 * 24 * time.Hour).Truncate(time.Second); !cert.NotAfter.Equal(want) || c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) {
		t.Fatalf("not after %v, expires_at %v, want %v", cert.NotAfter, c.ExpiresAt, want)
	}
	if r := e.upload("all", *c.ID, "file", []byte(*c.Content)); r.status != 409 {
		t.Fatalf("upload to a self-signed certificate: %d %s", r.status, r.body)
	}
	wantCertificate(t, e.must(200, "all", "GET", "/certificates/"+*c.ID, nil), "valid", false)

	for _, tc := range []struct{ name, body string }{
		{"unknown type", `{"display_name":"d","common_name":"c","type":"pfx"}`},
		{"no common name", `{"display_name":"d","type":"self_signed"}`},
		{"no display name", `{"common_name":"c","type":"self_signed"}`},
		{"ttl on a request", `{"display_name":"d","common_name":"c","type":"certificate_signing_request","details":{"ttl_days":30}}`},
		{"subject on self-signed", `{"display_name":"d","common_name":"c","type":"self_signed","details":{"organization":"Okta","ttl_days":30}}`},
		{"ttl too long", `{"display_name":"d","common_name":"c","type":"self_signed","details":{"ttl_days":100000}}`},
		{"bad country", `{"display_name":"d","common_name":"c","type":"certificate_signing_request","details":{"country":"USA"}}`},
		{"wrong type", `{"display_name":"d","common_name":"c","type":"self_signed","details":{"ttl_days":"90"}}`},
		{"two lines", `{"display_name":"d","common_name":"c\nCN=admin","type":"self_signed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) { e.must(400, "all", "POST", "/certificates/json", tc.body) })
	}
	e.must(400, "all", "POST", "/certificates/json", nil)
	e.must(401, "security", "POST", "/certificates/json", tfSelfSignedCreate)
	e.must(401, "end_user", "POST", "/certificates/json", tfSelfSignedCreate)
}

// certificateSeeds are certificate request bodies for the fuzz targets.
var certificateSeeds = []string{tfCSRCreate, tfSelfSignedCreate,
	`{"display_name":"d","common_name":"c","type":"self_signed","details":null}`,
	`{"display_name":"d","common_name":"c","type":"certificate_signing_request","details":{"country":"U"}}`}

// TestCertificateOnADConnection is data_source_ad_connections_test.go: a self-signed certificate,
// a connection with use_passwordless and its certificate_id (TF's ADConnection body), and the
// connections list filtered by certificate_id finding exactly it (before paging); the certificate
// cannot be deleted while the connection uses it; an unknown certificate or a half-set pair is
// refused.
func TestCertificateOnADConnection(t *testing.T) {
	e := newEnv(t)
	cert := *wantCertificate(t, e.must(201, "all", "POST", "/certificates/json",
		`{"display_name":"test_acc","common_name":"test_acc","type":"self_signed","details":{"ttl_days":1}}`), "valid", false).ID
	other := *wantCertificate(t, e.must(201, "all", "POST", "/certificates/json", tfSelfSignedCreate), "valid", false).ID
	body := newConnBody("passwordless.example.com")
	body["use_passwordless"], body["certificate_id"] = true, cert
	var created struct {
		ID              string `json:"id"`
		UsePasswordless *bool  `json:"use_passwordless"`
		CertificateID   string `json:"certificate_id"`
	}
	e.must(201, "resource", "POST", "/integrations/ad_connections", body).json(t, &created)
	var got struct {
		UsePasswordless *bool   `json:"use_passwordless"`
		CertificateID   *string `json:"certificate_id"`
	}
	e.must(200, "all", "GET", "/integrations/ad_connections/"+created.ID, nil).json(t, &got)
	if got.UsePasswordless == nil || !*got.UsePasswordless || got.CertificateID == nil || *got.CertificateID != cert {
		t.Fatalf("connection reads back use_passwordless %v, certificate_id %v", got.UsePasswordless, got.CertificateID)
	}
	items, _ := e.handWrittenList("all", "/integrations/ad_connections", map[string]string{"certificate_id": cert})
	if len(items) != 1 || items[0]["id"] != created.ID || items[0]["certificate_id"] != cert {
		t.Fatalf("filtered by certificate_id: %v", items)
	}
	if items, _ := e.handWrittenList("all", "/integrations/ad_connections", map[string]string{"certificate_id": other}); len(items) != 0 {
		t.Fatalf("another certificate matched %v", items)
	}
	e.must(409, "all", "DELETE", "/certificates/"+cert, nil)

	for name, edit := range map[string]func(b map[string]any){
		"unknown certificate":       func(b map[string]any) { b["certificate_id"] = "00000000-0000-4000-8000-000000000000" },
		"certificate only":          func(b map[string]any) { b["use_passwordless"] = false },
		"passwordless without cert": func(b map[string]any) { delete(b, "certificate_id") },
	} {
		b := newConnBody("refused.example.com")
		b["use_passwordless"], b["certificate_id"] = true, cert
		edit(b)
		if r := e.do("all", "POST", "/integrations/ad_connections", b); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Dropping passwordless frees the certificate.
	body["use_passwordless"], body["certificate_id"] = nil, nil
	e.must(204, "all", "PUT", "/integrations/ad_connections/"+created.ID, body)
	e.must(204, "all", "DELETE", "/certificates/"+cert, nil)
}

func FuzzCertificateCreate(f *testing.F) { fuzzRoute(f, "CertificateCreate") }
func FuzzCertificateUpdate(f *testing.F) { fuzzRoute(f, "CertificateUpdate") }
