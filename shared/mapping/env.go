package mapping

import "time"

// Where the match Lambda finds the mapping (package ssmstore reads it).
const (
	// EnvParameter names the SSM parameter holding the mapping.
	EnvParameter = "GUARDBOTS_MAPPING_PARAMETER"
	// EnvTTL is how long a fetched mapping is reused, as a Go duration ("60s", "5m"; "0s" reads every time).
	EnvTTL = "GUARDBOTS_MAPPING_TTL"

	DefaultParameterName = "/guardbots/mapping"
	DefaultTTL           = 60 * time.Second
)
