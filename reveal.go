package opa

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// MaxRevealRequestBytes bounds a reveal request body.
const MaxRevealRequestBytes = 64 << 10

// RevealRequest is the body of reveal_credentials: the client's public JWK (RFC 7517) and the access
// method it chose (UserAccessMethodWithRuleIds).
type RevealRequest struct {
	PublicKey        json.RawMessage  `json:"public_key"`
	UserAccessMethod UserAccessMethod `json:"user_access_method"`
}

// RevealResponse is the answer of reveal_credentials: {"password_jwe"}, a compact JWE (RFC 7516
// §7.1) whose plaintext is the password as UTF-8 bytes.
type RevealResponse struct {
	PasswordJWE string `json:"password_jwe"`
}

// parseRevealKey validates the client's key: RSA of at least 2048 bits for RSA-OAEP-256 or EC on
// P-256, P-384 or P-521 for ECDH-ES, with no private or symmetric members. ErrInvalid otherwise; the
// message names no key material.
func parseRevealKey(raw json.RawMessage) (*revealjwe.PublicKey, error) {
	if len(raw) == 0 {
		return nil, invalidf("public_key is required")
	}
	pub, err := revealjwe.ParsePublicKey(raw)
	if err != nil {
		return nil, errclass.Wrap(err, ErrInvalid, "public_key is not an acceptable encryption key")
	}
	return pub, nil
}

// errNeedsPassword makes a reveal transaction roll back so the account can get its first password.
var errNeedsPassword = errors.New("account has no known password yet")

// RevealADAccountPassword returns the password of an AD account encrypted to the client's key
// (reveal_credentials).
//
// Order of checks: the key (ErrInvalid), the account's visibility to p (ErrNotFound, never
// forbidden), the access method (ErrInvalid without rule_ids; ErrForbidden when none of its rules
// still grants p a reveal privilege with its conditions met — ForbiddenUAMResponse — naming the
// condition when an MFA or access request condition is what is missing; those conditions are
// decided by the engine's ConditionDecider before the reveal's transaction, and its errors are
// returned; without one they are never met), then the
// account's state: checked out by another user, being rotated, or waiting for a rotation after a
// failed post-check-in rotation are ErrConflict (DESIGN: the request clashes with the account's
// state; nothing about p's rights is wrong). When the access method requires a checkout (policy
// condition or project setting, see checkoutRequirement) the reveal checks the account out to p;
// while p holds the checkout p may reveal again, until it expires: from then it is over (expiry.go),
// the reveal first settles it (the system checks it in and rotates the password) and is then
// decided as anyone's would be, so the former holder gets the new password only through a new
// checkout. An account brought under management with no known
// password (MISSING_PASSWORD: its rule has no initial rotation, or that rotation has not succeeded
// yet) is first rotated, and the new password is revealed. DESIGN: the engine cannot read a
// directory password (AD's unicodePwd is write-only), and it never hands out a password it did not
// set, so the first reveal is what sets one (docs/wire.md#reveal); that rotation's directory errors
// are returned. Every reveal and checkout is audited,
// never with the password. Safe for concurrent use: of concurrent checkouts exactly one wins.
func (e *Engine) RevealADAccountPassword(ctx context.Context, p Principal, connectionID, accountID string, req RevealRequest) (RevealResponse, error) {
	return e.reveal(ctx, p, req, func(tx storage.ReadTx, set *policySet) (accessView, error) {
		return e.visibleADVia(storage.Accounts.Borrow, tx, p, set, connectionID, accountID)
	})
}

// reveal runs a reveal. view returns the account borrowed (storage.Table.Borrow: read only); it is
// reloaded as a copy before a checkout changes it.
func (e *Engine) reveal(ctx context.Context, p Principal, req RevealRequest, view func(storage.ReadTx, *policySet) (accessView, error)) (RevealResponse, error) {
	if err := p.check(); err != nil {
		return RevealResponse{}, err
	}
	pub, err := parseRevealKey(req.PublicKey)
	if err != nil {
		return RevealResponse{}, err
	}
	met, err := e.decideFor(ctx, p, view, req.UserAccessMethod, revealPrivilege)
	if err != nil {
		return RevealResponse{}, err
	}
	rotated, settled := false, 0
	for {
		var (
			out    RevealResponse
			r      resource
			sealed storage.Sealed
		)
		err := e.store.Update(ctx, func(tx storage.WriteTx) error {
			set, err := policiesFor(tx, p)
			if err != nil {
				return err
			}
			v, err := view(tx, set)
			if err != nil {
				return err
			}
			r = v.r
			g, err := v.authorize(req.UserAccessMethod, revealPrivilege, met)
			if err != nil {
				return err
			}
			now := v.now
			if err := usable(r, p.UserID, now); err != nil {
				return err
			}
			if len(r.cred().Password) == 0 {
				return errNeedsPassword
			}
			if required, secs := checkoutRequirement(r, v.project, g.rule.Conditions); required {
				if r, err = r.reload(tx); err != nil { // a copy of the borrowed account, to change
					return err
				}
				if err := e.startCheckout(tx, p, r, secs, now); err != nil {
					return err
				}
			}
			sealed = slices.Clone(r.cred().Password)
			return e.audit(tx, p, AuditReveal, r.kind(), r.id(), "success", "rule "+g.rule.ID)
		})
		if err == nil {
			// Unsealing and the public-key encryption run after the commit, so the store's writer
			// lock is never held during RSA or ECDH work (which would serialize every writer of the
			// engine behind each reveal). The decision, the checkout and the audit event were
			// committed together above; an encryption failure here (only possible if the system's
			// randomness fails, the key having been validated) leaves the checkout in place, and
			// the holder may reveal again.
			out.PasswordJWE, err = e.encryptSealed(pub, sealed, r)
		}
		if errors.Is(err, errUnsettled) && settled < 3 {
			// The checkout it found has ended, or was checked in and its rotation has not run:
			// settle it (check-in and rotation, expiry.go), then decide again on the settled account.
			settled++
			if err := e.settleExpired(ctx, r.teamID(), r.kind(), r.id()); err != nil {
				return RevealResponse{}, err
			}
			continue
		}
		if errors.Is(err, errUnsettled) {
			return RevealResponse{}, errors.WithHint(conflictf("the checkout of account %q is being checked in", r.name()), "try again in a moment")
		}
		if errors.Is(err, errNeedsPassword) && !rotated {
			rotated = true
			if err := e.rotate(ctx, p, r.kind(), r.id(), rotationReasonInitial, ""); err != nil {
				return RevealResponse{}, err
			}
			continue
		}
		if errors.Is(err, errNeedsPassword) {
			return RevealResponse{}, errors.WithHint(conflictf("account %q has no known password", r.name()), "rotate it first")
		}
		return out, err
	}
}

// encryptSealed opens the sealed password of r and encrypts it to pub as a compact JWE.
func (e *Engine) encryptSealed(pub *revealjwe.PublicKey, sealed storage.Sealed, r resource) (string, error) {
	pw, err := e.seal.open(sealed, r.purpose(), r.id())
	if err != nil {
		return "", err
	}
	jwe, err := revealjwe.Encrypt(pub, []byte(pw))
	if err != nil {
		return "", invalidf("encrypting the password to public_key failed")
	}
	return jwe, nil
}
