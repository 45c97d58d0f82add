package auth

import (
	"errors"
	"strings"
)

// Options is the `auth:` section of the configuration. The zero value is
// the offline default: keys optional, admin API for loopback clients only.
type Options struct {
	// Required makes every API request carry a valid key ("Authorization:
	// Bearer sk-sg-..." or "x-api-key: sk-sg-..."); without one it gets
	// 401. When false, a request without a key runs as tenant "default";
	// one that sends an sk-sg- key runs as that key (and gets 401 if the
	// key is unknown, revoked or expired); other credentials (an SDK's
	// placeholder key) are ignored. Default: false.
	Required bool `yaml:"required"`
	// AdminToken, when set, is required by the admin API (/admin/...) as
	// "Authorization: Bearer TOKEN", from any client; at least 16
	// characters. When empty, the admin API answers only loopback clients
	// whose Host header names a loopback address. Usually
	// ${SEMGATE_ADMIN_TOKEN}; an unset variable leaves it empty. Default:
	// empty.
	AdminToken string `yaml:"admin_token"`
}

// minAdminToken is the shortest admin token accepted.
const minAdminToken = 16

// Validate reports every problem at once. Messages never contain the
// token.
func (o *Options) Validate() error {
	var errs []error
	if t := o.AdminToken; t != "" {
		if len(t) < minAdminToken {
			errs = append(errs, errors.New("admin_token: must be at least 16 characters"))
		}
		if strings.TrimSpace(t) != t || strings.ContainsAny(t, "\r\n\t ") {
			errs = append(errs, errors.New("admin_token: must not contain white space"))
		}
	}
	return errors.Join(errs...)
}
