//go:build gencatalogue

package bots

// strictCatalogue is off in the catalogue's generator: it links the new declarations to write them.
const strictCatalogue = false
