package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// resultCode returns the LDAP result code of err (go-ldap's ErrorNetwork and friends included),
// and whether err carries one.
func resultCode(err error) (uint16, bool) {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode, true
	}
	return 0, false
}

// isNetworkError reports whether err, as returned by go-ldap, means the connection is unusable: a
// transport failure rather than an answer from the server. go-ldap reports some transport failures
// as plain errors ("unable to send request"), so any error that is neither an LDAP result nor
// already marked with a class counts.
func isNetworkError(err error) bool {
	if err == nil {
		return false
	}
	if code, ok := resultCode(err); ok {
		return code == ldap.ErrorNetwork
	}
	for _, class := range classes {
		if errors.Is(err, class) {
			return false
		}
	}
	return true
}

var classes = []error{directory.ErrUnavailable, directory.ErrTimeout, directory.ErrNotFound,
	directory.ErrInvalid, errclass.Conflict, errclass.Forbidden}

// isCertError reports whether err is a TLS certificate verification failure.
func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// ctxError maps a done context to the timeout class, keeping ctx.Err() as the cause so
// errors.Is(err, context.DeadlineExceeded) (or Canceled) still holds.
func ctxError(ctx context.Context, op string) error {
	return errclass.Tag(errors.Wrapf(context.Cause(ctx), "ldap %s", op), directory.ErrTimeout)
}

// diagnostic returns the server's diagnostic message of an LDAP error, with secret removed.
func diagnostic(err error, secret string) string {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Err == nil {
		return ""
	}
	msg := strings.TrimSpace(strings.TrimRight(le.Err.Error(), "\x00"))
	if secret != "" && strings.Contains(msg, secret) {
		msg = strings.ReplaceAll(msg, secret, "[redacted]")
	}
	return msg
}

// mapError turns an LDAP answer into an error of one of the directory classes. op names the
// operation and target the DN it concerned; neither may hold a secret. secret, if set, is scrubbed
// from the server's diagnostic, and the original error is not kept as a cause (its text could
// echo the secret).
func mapError(err error, op, target, secret string) error {
	if err == nil {
		return nil
	}
	code, ok := resultCode(err)
	if !ok {
		return errclass.Tag(errors.Wrapf(err, "ldap %s %q", op, target), directory.ErrUnavailable)
	}
	name := ldap.LDAPResultCodeMap[code]
	diag := diagnostic(err, secret)
	base := errors.Newf("ldap %s %q: result %d (%s)", op, target, code, name)
	if diag != "" {
		base = errors.Newf("ldap %s %q: result %d (%s): %s", op, target, code, name, diag)
	}
	switch code {
	case ldap.LDAPResultNoSuchObject:
		return errclass.Tag(base, directory.ErrNotFound)
	case ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultFilterError, ldap.ErrorFilterCompile,
		ldap.LDAPResultProtocolError, ldap.LDAPResultUndefinedAttributeType,
		ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultObjectClassViolation,
		ldap.LDAPResultNamingViolation, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultAttributeOrValueExists,
		ldap.LDAPResultNoSuchAttribute:
		return errclass.Tag(base, directory.ErrInvalid)
	case ldap.LDAPResultEntryAlreadyExists:
		return errclass.Tag(base, errclass.Conflict)
	case ldap.LDAPResultInsufficientAccessRights:
		return errors.WithHint(errclass.Tag(base, errclass.Forbidden),
			"the service account lacks the rights for this operation")
	case ldap.LDAPResultInvalidCredentials:
		return errors.WithHint(errclass.Tag(errclass.Tag(base, directory.ErrCredentials), directory.ErrUnavailable),
			"check the connection's service account username and password")
	case ldap.LDAPResultTimeLimitExceeded:
		return errclass.Tag(base, directory.ErrTimeout)
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.ErrorNetwork:
		return errclass.Tag(base, directory.ErrUnavailable)
	}
	if secret == "" {
		// Keep go-ldap's error for %+v; its text is the same as ours.
		return errclass.Tag(errors.WithSecondaryError(base, err), directory.ErrUnavailable)
	}
	return errclass.Tag(base, directory.ErrUnavailable)
}

// passwordError maps the answer to a unicodePwd modify. AD answers constraintViolation (19) when
// the password policy refuses the password and unwillingToPerform (53) for some policy failures;
// both become an error marked ErrConstraint and ErrInvalid whose message names the policy and never
// the password.
func passwordError(err error, dn, password string) error {
	code, ok := resultCode(err)
	if ok && (code == ldap.LDAPResultConstraintViolation || code == ldap.LDAPResultUnwillingToPerform) {
		msg := errors.Newf("the directory's password policy refused the new password for %q (LDAP result %d, %s)",
			dn, code, ldap.LDAPResultCodeMap[code])
		if diag := diagnostic(err, password); diag != "" {
			msg = errors.Newf("the directory's password policy refused the new password for %q (LDAP result %d, %s): %s",
				dn, code, ldap.LDAPResultCodeMap[code], diag)
		}
		return errors.WithHint(errclass.Tag(errclass.Tag(msg, directory.ErrInvalid), directory.ErrConstraint),
			"choose a longer or more complex password, or check the domain's minimum password age and history")
	}
	return mapError(err, "set password of", dn, password)
}
