package httpapi

import (
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// createCertificate: POST …/certificates/json {"display_name","common_name","type","details":{…}}
// answers 201 with the certificate and its PEM content (TF requires 201 and reads id and content;
// docs/wire.md#certificates).
func createCertificate(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		DisplayName string `json:"display_name"`
		CommonName  string `json:"common_name"`
		Type        string `json:"type"`
		Details     *struct {
			Organization       string `json:"organization"`
			OrganizationalUnit string `json:"organizational_unit"`
			Locality           string `json:"locality"`
			Province           string `json:"province"`
			Country            string `json:"country"`
			TTLDays            int    `json:"ttl_days"`
		} `json:"details"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	req := opa.CertificateInput{DisplayName: in.DisplayName, CommonName: in.CommonName, Type: in.Type}
	if d := in.Details; d != nil {
		req.Organization, req.OrganizationalUnit, req.Locality, req.Province, req.Country, req.TTLDays =
			d.Organization, d.OrganizationalUnit, d.Locality, d.Province, d.Country, d.TTLDays
	}
	c, err := e.CreateCertificate(r.Context(), p, req)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, c)
	return nil
}

func getCertificate(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	c, err := e.Certificate(r.Context(), p, r.PathValue("certificate_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, c)
	return nil
}

// updateCertificate: PUT …/certificates/{id} {"display_name"} answers 204 (TF requires it).
func updateCertificate(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		DisplayName *string `json:"display_name"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if in.DisplayName == nil {
		return errclass.Mark(errclass.Invalid, "display_name is required")
	}
	if err := e.RenameCertificate(r.Context(), p, r.PathValue("certificate_id"), *in.DisplayName); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteCertificate(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteCertificate(r.Context(), p, r.PathValue("certificate_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// uploadCertificate: POST …/certificates/{id}/upload, a multipart/form-data body whose "file" part
// is the signed PEM certificate (TF's resty SetMultipartField), answers 200 with the certificate.
// The engine checks the caller's role before the upload, so a malformed body from a caller
// without the role is refused as unauthorized, not as invalid.
func uploadCertificate(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	content, problem := uploadedFile(w, r)
	c, err := e.UploadCertificate(r.Context(), p, r.PathValue("certificate_id"), content)
	if err != nil {
		if problem != "" && errors.Is(err, opa.ErrInvalid) {
			return errclass.Mark(errclass.Invalid, "%s", problem)
		}
		return err
	}
	encode(w, http.StatusOK, c)
	return nil
}

// uploadedFile reads the "file" part of a multipart/form-data body; on failure it returns nil and
// what is wrong.
func uploadedFile(w http.ResponseWriter, r *http.Request) ([]byte, string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, "the certificate is uploaded as the file part of a multipart/form-data body"
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "the multipart body is malformed"
	}
	var content []byte
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "the multipart body is malformed or too large"
		}
		if part.FormName() == "file" && content == nil {
			if content, err = io.ReadAll(part); err != nil {
				return nil, "the multipart body is malformed or too large"
			}
		}
		_ = part.Close()
	}
	if len(strings.TrimSpace(string(content))) == 0 {
		return nil, "the file part with the certificate is missing"
	}
	return content, ""
}
