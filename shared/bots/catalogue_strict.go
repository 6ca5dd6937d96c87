//go:build !gencatalogue

package bots

// strictCatalogue makes Register refuse a declaration that is not exactly its catalogue entry. Only the
// catalogue's generator (built with -tags gencatalogue) registers bots against a stale catalogue.
const strictCatalogue = true
