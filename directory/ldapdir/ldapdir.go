// Package ldapdir implements directory.Directory over LDAP, for Active Directory domain
// controllers (and Samba AD DCs), with github.com/go-ldap/ldap/v3.
//
// A Directory connects to the connection's domain controllers in order, failing over to the next
// one on a network or TLS error, always over TLS (LDAPS by default, StartTLS as an option) with
// certificate verification on unless WithInsecureSkipVerify says otherwise, and binds with the
// service account (simple bind). It keeps a bounded pool of bound connections and replaces one the
// server has dropped. Searches use the paged-results control (RFC 2696) so every entry of a large
// domain is returned. objectSid and objectGUID come back as strings (S-1-5-21-… and the canonical
// GUID form), and a filter may name an objectGUID in that form: Search sends it as the GUID's 16
// bytes, which is what AD compares. SetPassword replaces unicodePwd the AD way.
//
// Errors carry the classes of package directory: ErrUnavailable when no domain controller can be
// reached, ErrTimeout when the context's deadline (or the request timeout) passes, ErrNotFound for
// noSuchObject, ErrInvalid for a malformed filter or DN, ErrConstraint (with ErrInvalid) when the
// password policy refuses a password. No error or log line contains a password.
package ldapdir

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// server is one domain controller.
type server struct {
	addr  string // host:port
	host  string
	ldaps bool // false: StartTLS on a plain LDAP port
}

// parseServer accepts "host", "host:port", "[v6]:port", "ldaps://host[:port]" and
// "ldap://host[:port]" (which means StartTLS).
func parseServer(s string, cfg *config) (server, error) {
	ldaps := !cfg.startTLS
	rest := strings.TrimSpace(s)
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		switch strings.ToLower(scheme) {
		case "ldaps":
			ldaps = true
		case "ldap":
			ldaps = false
		default:
			return server{}, invalidf("domain controller %q: scheme %q, want ldaps or ldap", s, scheme)
		}
		rest = strings.TrimSuffix(after, "/")
	}
	if rest == "" {
		return server{}, invalidf("empty domain controller address")
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = strings.Trim(rest, "[]"), ""
	}
	if port == "" {
		switch {
		case cfg.port != 0:
			port = strconv.Itoa(cfg.port)
		case ldaps:
			port = "636"
		default:
			port = "389"
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return server{}, invalidf("domain controller %q: bad port %q", s, port)
	}
	return server{addr: net.JoinHostPort(host, port), host: host, ldaps: ldaps}, nil
}

// Stats counts what a Directory did since it was made. Read it with Directory.Stats.
type Stats struct {
	Dials     int64 // connections opened and bound
	Failovers int64 // times a domain controller failed and the next was tried
	Reconnect int64 // operations retried on a fresh connection after a pooled one had died
	Searches  int64 // Search calls that reached a server
	Pages     int64 // paged-results pages received
	Entries   int64 // entries returned
}

type counters struct {
	dials, failovers, reconnect, searches, pages, entries atomic.Int64
}

// conn is a bound connection and its transport, which is closed to abort an operation.
type conn struct {
	lc  *ldap.Conn
	raw net.Conn
}

func (c *conn) close() {
	_ = c.raw.Close()
	go func() { _ = c.lc.Close() }()
}

// Directory is an Active Directory reached over LDAP. Make one with New or through a Resolver.
// It is safe for concurrent use; at most the pool size of operations run at once, the others wait.
type Directory struct {
	cfg      config
	servers  []server
	username string
	password string
	sem      chan struct{}
	stats    counters

	mu        sync.Mutex
	idle      []*conn
	downUntil []time.Time
	closed    bool
}

var _ directory.Directory = (*Directory)(nil)

// New returns a Directory for the connection's domain controllers and service account. It does not
// connect: the first operation does. A username without "@", "\" or "=" is taken as a
// sAMAccountName and bound as username@Domain. Errors: ErrInvalid for a bad option, no domain
// controller or a malformed address.
func New(c directory.Connection, opts ...Option) (*Directory, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if len(c.DomainControllers) == 0 {
		return nil, invalidf("connection %q has no domain controllers", c.ID)
	}
	d := &Directory{
		cfg:       cfg,
		username:  bindName(c.ServiceAccountUsername, c.Domain),
		password:  c.ServiceAccountPassword,
		sem:       make(chan struct{}, cfg.poolSize),
		downUntil: make([]time.Time, len(c.DomainControllers)),
	}
	for _, s := range c.DomainControllers {
		srv, err := parseServer(s, &cfg)
		if err != nil {
			return nil, err
		}
		d.servers = append(d.servers, srv)
	}
	if d.cfg.dial == nil {
		d.cfg.dial = (&net.Dialer{}).DialContext
	}
	return d, nil
}

func bindName(user, domain string) string {
	if user == "" || domain == "" || strings.ContainsAny(user, `@\=`) {
		return user
	}
	return user + "@" + domain
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (d *Directory) Stats() Stats {
	return Stats{
		Dials:     d.stats.dials.Load(),
		Failovers: d.stats.failovers.Load(),
		Reconnect: d.stats.reconnect.Load(),
		Searches:  d.stats.searches.Load(),
		Pages:     d.stats.pages.Load(),
		Entries:   d.stats.entries.Load(),
	}
}

// Close closes the idle connections; busy ones close when their operation ends. Later operations
// fail with ErrUnavailable. Safe for concurrent use; closing twice is fine.
func (d *Directory) Close() error {
	d.mu.Lock()
	idle := d.idle
	d.idle, d.closed = nil, true
	d.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	return nil
}

// dialOrder returns the servers to try, in order, skipping those cooling down after a failure
// unless all are.
func (d *Directory) dialOrder() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	var up, all []int
	for i := range d.servers {
		all = append(all, i)
		if !now.Before(d.downUntil[i]) {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return all
	}
	return up
}

func (d *Directory) markDown(i int) {
	d.mu.Lock()
	d.downUntil[i] = time.Now().Add(d.cfg.failoverCooldown)
	d.mu.Unlock()
}

func (d *Directory) markUp(i int) {
	d.mu.Lock()
	d.downUntil[i] = time.Time{}
	d.mu.Unlock()
}

// dial connects and binds to the first domain controller that answers.
func (d *Directory) dial(ctx context.Context) (*conn, error) {
	var failures []string
	certFailure := false
	for n, i := range d.dialOrder() {
		if n > 0 {
			d.stats.failovers.Add(1)
		}
		s := d.servers[i]
		c, err := d.dialOne(ctx, s)
		if err == nil {
			d.markUp(i)
			d.stats.dials.Add(1)
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctxError(ctx, "connect")
		}
		if code, ok := resultCode(err); ok && code != ldap.ErrorNetwork {
			// The server answered the bind: another domain controller of the same domain would
			// give the same answer.
			return nil, mapError(err, "bind as", d.username, d.password)
		}
		d.markDown(i)
		certFailure = certFailure || isCertError(err)
		msg := err.Error()
		if d.password != "" {
			msg = strings.ReplaceAll(msg, d.password, "[redacted]")
		}
		failures = append(failures, s.addr+": "+msg)
	}
	err := errclass.Tag(errors.Newf("no domain controller could be reached: %s", strings.Join(failures, "; ")), directory.ErrUnavailable)
	if certFailure {
		err = errors.WithHint(err, "a domain controller's TLS certificate was not trusted: give the domain's CA with ldapdir.WithRootCAs or ldapdir.WithCAFile")
	}
	return nil, err
}

// dialOne connects to s, sets up TLS and binds, within the dial timeout.
func (d *Directory) dialOne(parent context.Context, s server) (*conn, error) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.dialTimeout)
	defer cancel()
	raw, err := d.cfg.dial(ctx, "tcp", s.addr)
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	name := d.cfg.serverName
	if name == "" {
		name = s.host
	}
	tc := &tls.Config{
		RootCAs:            d.cfg.rootCAs,
		ServerName:         name,
		InsecureSkipVerify: d.cfg.insecure, //nolint:gosec // an explicit, documented test-only option
		MinVersion:         tls.VersionTLS12,
	}
	var lc *ldap.Conn
	transport := raw
	if s.ldaps {
		t := tls.Client(raw, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			stop()
			_ = raw.Close()
			return nil, ldap.NewError(ldap.ErrorNetwork, errors.Wrap(err, "TLS handshake"))
		}
		lc = ldap.NewConn(t, true)
		lc.Start()
	} else {
		lc = ldap.NewConn(raw, false)
		lc.Start()
		if err := lc.StartTLS(tc); err != nil {
			stop()
			c := &conn{lc: lc, raw: raw}
			c.close()
			// A refused StartTLS is a reason to try the next domain controller, like a failed
			// handshake.
			return nil, ldap.NewError(ldap.ErrorNetwork, errors.Wrap(err, "StartTLS"))
		}
	}
	c := &conn{lc: lc, raw: transport}
	if err := lc.Bind(d.username, d.password); err != nil {
		stop()
		c.close()
		return nil, err
	}
	if !stop() {
		c.close()
		return nil, ldap.NewError(ldap.ErrorNetwork, errors.New("timed out connecting"))
	}
	return c, nil
}

// acquire returns a pooled connection or a new one; reused says which.
func (d *Directory) acquire(ctx context.Context, op string) (c *conn, reused bool, err error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctxError(ctx, op)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.sem
		return nil, false, errclass.Tag(errors.New("ldap directory closed"), directory.ErrUnavailable)
	}
	for len(d.idle) > 0 {
		c = d.idle[len(d.idle)-1]
		d.idle = d.idle[:len(d.idle)-1]
		if !c.lc.IsClosing() {
			d.mu.Unlock()
			return c, true, nil
		}
		c.close()
	}
	d.mu.Unlock()
	c, err = d.dial(ctx)
	if err != nil {
		<-d.sem
		return nil, false, err
	}
	return c, false, nil
}

// release returns c to the pool, or closes it when broken.
func (d *Directory) release(c *conn, broken bool) {
	d.mu.Lock()
	if broken || d.closed || c.lc.IsClosing() {
		d.mu.Unlock()
		c.close()
	} else {
		d.idle = append(d.idle, c)
		d.mu.Unlock()
	}
	<-d.sem
}

// do runs fn on a connection within the request timeout. fn returns LDAP network errors as they
// are (do reconnects once when a pooled connection turns out dead) and maps every other error
// itself. Cancellation of ctx aborts fn by closing its connection.
func (d *Directory) do(ctx context.Context, op string, fn func(ctx context.Context, c *conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.requestTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		c, reused, err := d.acquire(ctx, op)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { _ = c.raw.Close() })
		err = fn(ctx, c)
		fired := !stop()
		if err == nil {
			d.release(c, fired)
			return nil
		}
		if fired || ctx.Err() != nil {
			d.release(c, true)
			return ctxError(ctx, op)
		}
		if isNetworkError(err) {
			d.release(c, true)
			if reused && attempt == 0 {
				d.stats.reconnect.Add(1)
				continue
			}
			return errclass.Tag(errors.Wrapf(err, "ldap %s", op), directory.ErrUnavailable)
		}
		d.release(c, false)
		return err
	}
}

// Authenticate binds to a domain controller with the service account on a new connection, which
// then joins the pool, so the answer is the server's for the credentials as they are now.
// Errors: ErrCredentials (with ErrUnavailable) when the server refuses them (LDAP
// invalidCredentials); ErrUnavailable when no domain controller can be reached; ErrTimeout when
// ctx's deadline or the request timeout passes. Safe for concurrent use.
func (d *Directory) Authenticate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.requestTimeout)
	defer cancel()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, "bind")
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		<-d.sem
		return errclass.Tag(errors.New("ldap directory closed"), directory.ErrUnavailable)
	}
	c, err := d.dial(ctx)
	if err != nil {
		<-d.sem
		return err
	}
	d.release(c, false)
	return nil
}

var scopes = map[directory.Scope]int{
	directory.ScopeSubtree:    ldap.ScopeWholeSubtree,
	directory.ScopeOneLevel:   ldap.ScopeSingleLevel,
	directory.ScopeBaseObject: ldap.ScopeBaseObject,
}

// Search returns every entry under req.BaseDN that matches req.Filter, reading all pages of the
// paged-results control (or up to req.SizeLimit entries). Errors: ErrInvalid for a malformed
// filter, DN or scope, ErrNotFound when the base does not exist, ErrUnavailable and ErrTimeout as
// for every operation. Safe for concurrent use.
func (d *Directory) Search(ctx context.Context, req directory.SearchRequest) ([]*directory.Entry, error) {
	filter := req.Filter
	if filter == "" {
		filter = "(objectClass=*)"
	}
	filter, err := adFilter(filter)
	if err != nil {
		return nil, errclass.Tag(errors.Newf("invalid search filter %q: %v", req.Filter, err), directory.ErrInvalid)
	}
	if _, err := ldap.ParseDN(req.BaseDN); err != nil {
		return nil, errclass.Tag(errors.Newf("invalid base DN %q: %v", req.BaseDN, err), directory.ErrInvalid)
	}
	scope, ok := scopes[req.Scope]
	if !ok {
		return nil, invalidf("invalid search scope %d", req.Scope)
	}
	if req.SizeLimit < 0 {
		return nil, invalidf("invalid size limit %d", req.SizeLimit)
	}
	var out []*directory.Entry
	err = d.do(ctx, "search", func(ctx context.Context, c *conn) error {
		out = out[:0]
		d.stats.searches.Add(1)
		paging := ldap.NewControlPaging(uint32(d.cfg.pageSize))
		sr := ldap.NewSearchRequest(req.BaseDN, scope, ldap.NeverDerefAliases, req.SizeLimit, 0, false,
			filter, req.Attributes, []ldap.Control{paging})
		for {
			res, err := c.lc.Search(sr)
			limited := false
			if err != nil {
				if isNetworkError(err) {
					return err
				}
				code, _ := resultCode(err)
				if code != ldap.LDAPResultSizeLimitExceeded || req.SizeLimit == 0 || res == nil {
					return mapError(err, "search", req.BaseDN, "")
				}
				limited = true
			}
			d.stats.pages.Add(1)
			for _, e := range res.Entries {
				de, err := convertEntry(e)
				if err != nil {
					return err
				}
				out = append(out, de)
			}
			var cookie []byte
			if ctl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				cookie = ctl.Cookie
			}
			if req.SizeLimit > 0 && len(out) >= req.SizeLimit {
				out = out[:req.SizeLimit]
				limited = true
			}
			if limited || len(cookie) == 0 {
				if len(cookie) > 0 {
					// Abandon the paged search so the server frees its state (RFC 2696 section 3).
					paging.PagingSize = 0
					paging.SetCookie(cookie)
					if _, err := c.lc.Search(sr); isNetworkError(err) {
						return err
					}
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctxError(ctx, "search")
			}
			paging.SetCookie(cookie)
		}
	})
	if err != nil {
		return nil, err
	}
	d.stats.entries.Add(int64(len(out)))
	return out, nil
}

// SetPassword sets the password of the account dn by replacing unicodePwd with the UTF-16LE
// encoding of the double-quoted password (MS-ADTS 3.1.1.3.1.5.1), which AD accepts only over an
// encrypted connection; every connection of a Directory is. A password the domain's policy
// refuses (LDAP constraintViolation 19 or unwillingToPerform 53) returns an error marked with both
// directory.ErrConstraint and directory.ErrInvalid; an unknown dn returns ErrNotFound. The password
// never appears in an error. Safe for concurrent use.
func (d *Directory) SetPassword(ctx context.Context, dn, password string) error {
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return invalidf("invalid account DN %q", dn)
	}
	enc, err := encodePassword(password)
	if err != nil {
		return err
	}
	return d.do(ctx, "set password", func(ctx context.Context, c *conn) error {
		if _, ok := c.lc.TLSConnectionState(); !ok {
			return errclass.Tag(errors.AssertionFailedf("refusing to send a password over an unencrypted LDAP connection"), directory.ErrUnavailable)
		}
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace("unicodePwd", []string{string(enc)})
		err := c.lc.Modify(req)
		if err == nil || isNetworkError(err) {
			return err
		}
		return passwordError(err, dn, password)
	})
}

// maxValuesPerModify bounds the members sent in one modify request; AD refuses requests with more
// values than its MaxValRange-related limits (5,000 on recent versions).
const maxValuesPerModify = 1000

// ModifyMembers adds (add=true) or removes the member DNs to or from the group groupDN through
// attribute (default "member"). It is idempotent: adding a DN that is already a member, or removing
// one that is not, succeeds (AD answers those with entryAlreadyExists or attributeOrValueExists,
// and unwillingToPerform or noSuchAttribute; the connector then checks the group and skips the
// member). Errors: ErrNotFound for an unknown group or member, ErrInvalid for a malformed DN.
// Safe for concurrent use.
func (d *Directory) ModifyMembers(ctx context.Context, groupDN, attribute string, add bool, members []string) error {
	if attribute == "" {
		attribute = "member"
	}
	if _, err := ldap.ParseDN(groupDN); err != nil || groupDN == "" {
		return invalidf("invalid group DN %q", groupDN)
	}
	for _, m := range members {
		if _, err := ldap.ParseDN(m); err != nil || m == "" {
			return invalidf("invalid member DN %q", m)
		}
	}
	if len(members) == 0 {
		return nil
	}
	return d.do(ctx, "modify members", func(ctx context.Context, c *conn) error {
		for start := 0; start < len(members); start += maxValuesPerModify {
			chunk := members[start:min(start+maxValuesPerModify, len(members))]
			err := modifyMembers(c, groupDN, attribute, add, chunk)
			if err == nil {
				continue
			}
			if isNetworkError(err) || !idempotentMemberError(err, add) {
				return memberError(err, groupDN)
			}
			// Some member is already (or not) in the group: go one by one.
			for _, m := range chunk {
				if err := d.modifyMember(c, groupDN, attribute, add, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func modifyMembers(c *conn, groupDN, attribute string, add bool, members []string) error {
	req := ldap.NewModifyRequest(groupDN, nil)
	if add {
		req.Add(attribute, members)
	} else {
		req.Delete(attribute, members)
	}
	return c.lc.Modify(req)
}

func (d *Directory) modifyMember(c *conn, groupDN, attribute string, add bool, member string) error {
	err := modifyMembers(c, groupDN, attribute, add, []string{member})
	if err == nil || isNetworkError(err) || !idempotentMemberError(err, add) {
		return memberError(err, groupDN)
	}
	// Check that the refusal means what idempotency assumes.
	res, serr := c.lc.Search(ldap.NewSearchRequest(groupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"("+attribute+"="+ldap.EscapeFilter(member)+")", []string{"1.1"}, nil))
	if serr != nil {
		return memberError(serr, groupDN)
	}
	if (len(res.Entries) > 0) == add {
		return nil
	}
	if !add {
		if _, serr := c.lc.Search(ldap.NewSearchRequest(member, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil)); serr != nil {
			return memberError(serr, member)
		}
	}
	return memberError(err, groupDN)
}

// idempotentMemberError reports whether err is how AD refuses a member that is already there
// (add) or not there (remove).
func idempotentMemberError(err error, add bool) bool {
	code, ok := resultCode(err)
	if !ok {
		return false
	}
	if add {
		return code == ldap.LDAPResultEntryAlreadyExists || code == ldap.LDAPResultAttributeOrValueExists
	}
	return code == ldap.LDAPResultNoSuchAttribute || code == ldap.LDAPResultUnwillingToPerform
}

func memberError(err error, dn string) error {
	if err == nil || isNetworkError(err) {
		return err
	}
	return mapError(err, "modify members of", dn, "")
}
