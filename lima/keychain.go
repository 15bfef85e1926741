package lima

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The parsing of macOS's `security` output lives here, not in the darwin
// file that runs it, so that it is tested on every host.

// trustDeny is kSecTrustSettingsResultDeny (SecTrustSettings.h).
const trustDeny = 3

// trustedForSSL returns the certificates of pems (`security
// find-certificate -a -p`) that a trust settings export (`security
// trust-settings-export`) trusts for SSL: listed by SHA-1 fingerprint,
// with no setting that denies SSL. An empty list of settings means always
// trusted; a certificate the user merely added to a keychain is listed in
// none and left out.
func trustedForSSL(pems []byte, exports ...[]byte) ([]string, error) {
	trusted := map[string]bool{}
	for _, export := range exports {
		if len(bytes.TrimSpace(export)) == 0 {
			continue // no trust settings in that domain
		}
		list, err := parseTrustSettings(export)
		if err != nil {
			return nil, err
		}
		for fp, ok := range list {
			// A denial in either domain wins, as for macOS's own checks.
			if prev, seen := trusted[fp]; !seen || prev {
				trusted[fp] = ok
			}
		}
	}
	var out []string
	for _, cert := range pemCerts(pems) {
		b, _ := pem.Decode([]byte(cert))
		sum := sha1.Sum(b.Bytes)
		if trusted[strings.ToUpper(hex.EncodeToString(sum[:]))] {
			out = append(out, cert)
		}
	}
	return out, nil
}

// parseTrustSettings reads a trust settings plist: each certificate's
// SHA-1 fingerprint, and whether its settings leave SSL trusted.
func parseTrustSettings(data []byte) (map[string]bool, error) {
	v, err := parsePlist(data)
	if err != nil {
		return nil, fmt.Errorf("trust settings: %w", err)
	}
	root, _ := v.(map[string]any)
	list, ok := root["trustList"].(map[string]any)
	if !ok {
		return nil, errors.New("trust settings: no trustList")
	}
	out := map[string]bool{}
	for fp, entry := range list {
		e, _ := entry.(map[string]any)
		settings, _ := e["trustSettings"].([]any)
		ok := true
		for _, s := range settings {
			s, _ := s.(map[string]any)
			result, present := s["kSecTrustSettingsResult"].(int64)
			if present && result == trustDeny && sslPolicy(s) {
				ok = false
			}
		}
		out[strings.ToUpper(fp)] = ok
	}
	return out, nil
}

// sslPolicy says whether a trust setting applies to SSL: it names no
// policy (all of them), or the SSL server one.
func sslPolicy(s map[string]any) bool {
	name, named := s["kSecTrustSettingsPolicyName"].(string)
	if !named {
		_, named = s["kSecTrustSettingsPolicy"]
	}
	return !named || name == "sslServer" || name == "SSL"
}

// parsePlist decodes an XML property list into maps, slices, strings,
// int64s, bools and byte slices: enough for trust settings, with no
// dependency for it.
func parsePlist(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false // the DOCTYPE line
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local != "plist" {
			return plistValue(d, se)
		}
	}
}

func plistValue(d *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		key := ""
		for {
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.EndElement:
				return m, nil
			case xml.StartElement:
				if t.Name.Local == "key" {
					if err := d.DecodeElement(&key, &t); err != nil {
						return nil, err
					}
					continue
				}
				v, err := plistValue(d, t)
				if err != nil {
					return nil, err
				}
				m[key] = v
			}
		}
	case "array":
		var a []any
		for {
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.EndElement:
				return a, nil
			case xml.StartElement:
				v, err := plistValue(d, t)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		}
	case "true", "false":
		return se.Name.Local == "true", d.Skip()
	}
	var text string
	if err := d.DecodeElement(&text, &se); err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "integer":
		return strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	case "string", "date", "data", "real":
		return text, nil
	}
	return nil, fmt.Errorf("unknown plist element <%s>", se.Name.Local)
}
