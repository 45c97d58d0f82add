package gateway

import "github.com/semgate/semgate/providers/jsonx"

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
var appendJSONString = jsonx.AppendString
