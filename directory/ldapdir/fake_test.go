package ldapdir

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// fakeCert is a self-signed certificate for dc1.test and dc2.test, made once per test binary.
var fakeCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake dc"},
		DNSNames:              []string{"dc1.test", "dc2.test", "dc3.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// fakeDC is a minimal LDAPS server: bind, paged search over generated entries, modify.
type fakeDC struct {
	bindCode    int    // result of every bind
	entries     int    // entries every search returns (paged by the request's page size)
	modifyCode  int    // result of every modify
	modifyDiag  string // diagnostic of a failed modify
	hangSearch  bool   // never answer searches
	dropAfterOp bool   // close the connection after answering a search

	mu       sync.Mutex // guards the settings above too: change them with set
	binds    int
	modifies []ldap.Change
}

// set changes the settings while connections are served.
func (f *fakeDC) set(change func(f *fakeDC)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// settings returns a copy of the settings.
func (f *fakeDC) settings() (s struct {
	bindCode, entries, modifyCode int
	modifyDiag                    string
	hangSearch, dropAfterOp       bool
}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.bindCode, s.entries, s.modifyCode, s.modifyDiag = f.bindCode, f.entries, f.modifyCode, f.modifyDiag
	s.hangSearch, s.dropAfterOp = f.hangSearch, f.dropAfterOp
	return s
}

func (f *fakeDC) changes() []ldap.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ldap.Change(nil), f.modifies...)
}

func (f *fakeDC) serve(c net.Conn) {
	cert, _ := fakeCert()
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
	defer tc.Close()
	for {
		p, err := ber.ReadPacket(tc)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id := p.Children[0].Value.(int64)
		op := p.Children[1]
		cfg := f.settings()
		switch op.Tag {
		case ldap.ApplicationBindRequest:
			f.mu.Lock()
			f.binds++
			f.mu.Unlock()
			write(tc, id, result(ldap.ApplicationBindResponse, cfg.bindCode, ""))
		case ldap.ApplicationUnbindRequest:
			return
		case ldap.ApplicationSearchRequest:
			if cfg.hangSearch {
				continue
			}
			f.search(tc, id, p, cfg.entries)
			if cfg.dropAfterOp {
				return
			}
		case ldap.ApplicationModifyRequest:
			f.mu.Lock()
			for _, ch := range op.Children[1].Children {
				attr := ch.Children[1]
				var vals []string
				for _, v := range attr.Children[1].Children {
					vals = append(vals, v.Data.String())
				}
				f.modifies = append(f.modifies, ldap.Change{
					Operation:    uint(ch.Children[0].Value.(int64)),
					Modification: ldap.PartialAttribute{Type: attr.Children[0].Value.(string), Vals: vals},
				})
			}
			f.mu.Unlock()
			write(tc, id, result(ldap.ApplicationModifyResponse, cfg.modifyCode, cfg.modifyDiag))
		}
	}
}

func (f *fakeDC) search(w net.Conn, id int64, p *ber.Packet, entries int) {
	size, start := entries, 0
	if len(p.Children) > 2 {
		for _, c := range p.Children[2].Children {
			ctl, err := ldap.DecodeControl(c)
			if pc, ok := ctl.(*ldap.ControlPaging); err == nil && ok {
				size = int(pc.PagingSize)
				if len(pc.Cookie) > 0 {
					start, _ = strconv.Atoi(string(pc.Cookie))
				}
			}
		}
	}
	end := min(start+size, entries)
	for i := start; i < end; i++ {
		e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
		e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "CN=u"+strconv.Itoa(i)+",DC=test", ""))
		attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		attrs.AppendChild(attribute("sAMAccountName", "u"+strconv.Itoa(i)))
		attrs.AppendChild(attribute("objectSid", string([]byte{1, 1, 0, 0, 0, 0, 0, 5, byte(i), 0, 0, 0})))
		e.AppendChild(attrs)
		write(w, id, e)
	}
	done := result(ldap.ApplicationSearchResultDone, 0, "")
	cookie := ""
	if end < entries && size > 0 {
		cookie = strconv.Itoa(end)
	}
	pc := ldap.NewControlPaging(0)
	pc.SetCookie([]byte(cookie))
	ctls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	ctls.AppendChild(pc.Encode())
	write(w, id, done, ctls)
}

func attribute(name string, vals ...string) *ber.Packet {
	a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, ""))
	set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
	for _, v := range vals {
		set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
	}
	a.AppendChild(set)
	return a
}

func result(app ber.Tag, code int, diag string) *ber.Packet {
	r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "")
	r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	return r
}

func write(w net.Conn, id int64, op ...*ber.Packet) {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	for _, p := range op {
		env.AppendChild(p)
	}
	_, _ = w.Write(env.Bytes())
}

// fakeNet routes dials to fake domain controllers by address; an address without one refuses.
// Each dial is served on a fresh loopback connection (net.Pipe's unbuffered writes deadlock a
// failing TLS handshake).
type fakeNet struct {
	mu    sync.Mutex
	dcs   map[string]*fakeDC
	dials []string
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	n.dials = append(n.dials, addr)
	dc := n.dcs[addr]
	n.mu.Unlock()
	if dc == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errRefused}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	client, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		return nil, err
	}
	srv, err := l.Accept()
	if err != nil {
		client.Close()
		return nil, err
	}
	go dc.serve(srv)
	return client, nil
}

func (n *fakeNet) dialed() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dials...)
}

type refusedError struct{}

func (refusedError) Error() string   { return "connection refused" }
func (refusedError) Timeout() bool   { return false }
func (refusedError) Temporary() bool { return false }

var errRefused = refusedError{}

// newFake returns a Directory over the fake network with the given domain controllers, trusting
// the fake CA.
func newFake(t *testing.T, n *fakeNet, dcs []string, opts ...Option) *Directory {
	t.Helper()
	_, pool := fakeCert()
	opts = append([]Option{WithDialer(n.dial), WithRootCAs(pool)}, opts...)
	d, err := New(testConn(dcs), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
