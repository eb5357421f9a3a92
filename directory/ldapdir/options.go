package ldapdir

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// Defaults of the options.
const (
	DefaultPoolSize         = 4
	DefaultDialTimeout      = 5 * time.Second
	DefaultRequestTimeout   = 60 * time.Second
	DefaultPageSize         = 1000
	DefaultFailoverCooldown = 30 * time.Second
	// MaxPageSize is AD's MaxPageSize: a domain controller returns at most this many entries a page.
	MaxPageSize = 1000
)

// DialFunc opens a transport connection to addr ("host:port"), as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Option configures a Directory or a Resolver. Options are applied in order; an invalid one makes
// New or NewResolver return an ErrInvalid error.
type Option func(*config) error

type config struct {
	rootCAs          *x509.CertPool
	startTLS         bool
	insecure         bool
	serverName       string
	poolSize         int
	dialTimeout      time.Duration
	requestTimeout   time.Duration
	port             int
	pageSize         int
	failoverCooldown time.Duration
	dial             DialFunc
}

func defaultConfig() config {
	return config{
		poolSize:         DefaultPoolSize,
		dialTimeout:      DefaultDialTimeout,
		requestTimeout:   DefaultRequestTimeout,
		pageSize:         DefaultPageSize,
		failoverCooldown: DefaultFailoverCooldown,
	}
}

func invalidf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), directory.ErrInvalid)
}

// WithRootCAs sets the certificate authorities that verify the domain controllers' certificates.
// Default: the system pool.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *config) error {
		if pool == nil {
			return invalidf("ldapdir.WithRootCAs: nil pool")
		}
		c.rootCAs = pool
		return nil
	}
}

// WithCAFile reads PEM certificate authorities from path and uses them as WithRootCAs does.
func WithCAFile(path string) Option {
	return func(c *config) error {
		pem, err := os.ReadFile(path)
		if err != nil {
			return errclass.Tag(errors.Wrap(err, "ldapdir.WithCAFile"), directory.ErrInvalid)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return invalidf("ldapdir.WithCAFile: no PEM certificate in %s", path)
		}
		c.rootCAs = pool
		return nil
	}
}

// WithStartTLS connects on the plain LDAP port (389) and upgrades with the StartTLS extended
// operation (RFC 4511 section 4.14) before binding, instead of LDAPS on port 636. A server that
// refuses StartTLS is an error: the connector never binds or sends a password in clear text.
func WithStartTLS() Option {
	return func(c *config) error {
		c.startTLS = true
		return nil
	}
}

// WithInsecureSkipVerify turns certificate verification off. For tests only: anyone on the path
// can then read the service account's password.
func WithInsecureSkipVerify() Option {
	return func(c *config) error {
		c.insecure = true
		return nil
	}
}

// WithTLSServerName sets the name the domain controllers' certificates are verified against.
// Default: the host part of each domain controller's address.
func WithTLSServerName(name string) Option {
	return func(c *config) error {
		c.serverName = name
		return nil
	}
}

// WithPoolSize caps the number of connections, busy or idle, a Directory keeps (default 4). An
// operation waits for a free connection, up to its context's deadline.
func WithPoolSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalidf("ldapdir.WithPoolSize: %d, want at least 1", n)
		}
		c.poolSize = n
		return nil
	}
}

// WithDialTimeout bounds connecting, the TLS handshake and the bind to one domain controller
// (default 5s); past it the next domain controller is tried.
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalidf("ldapdir.WithDialTimeout: %v, want > 0", d)
		}
		c.dialTimeout = d
		return nil
	}
}

// WithRequestTimeout bounds one operation (a whole paged search, a password set) when the caller's
// context has no earlier deadline (default 60s). Past it the operation fails with ErrTimeout.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalidf("ldapdir.WithRequestTimeout: %v, want > 0", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithPort sets the port of domain controllers given without one. Default: 636 for LDAPS, 389
// with StartTLS.
func WithPort(port int) Option {
	return func(c *config) error {
		if port < 1 || port > 65535 {
			return invalidf("ldapdir.WithPort: %d out of range", port)
		}
		c.port = port
		return nil
	}
}

// WithPageSize sets the paged-results page size (RFC 2696), at most MaxPageSize (default 1000).
func WithPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxPageSize {
			return invalidf("ldapdir.WithPageSize: %d, want 1 to %d", n, MaxPageSize)
		}
		c.pageSize = n
		return nil
	}
}

// WithFailoverCooldown sets how long a domain controller that failed to connect is skipped before
// it is tried again in its turn (default 30s; 0 always tries every one in order). When every
// domain controller is cooling down, all are tried.
func WithFailoverCooldown(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalidf("ldapdir.WithFailoverCooldown: %v, want >= 0", d)
		}
		c.failoverCooldown = d
		return nil
	}
}

// WithDialer replaces the TCP dialer (default: net.Dialer). Tests use it to inject failures.
func WithDialer(dial DialFunc) Option {
	return func(c *config) error {
		if dial == nil {
			return invalidf("ldapdir.WithDialer: nil dialer")
		}
		c.dial = dial
		return nil
	}
}
