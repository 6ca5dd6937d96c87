package guardduty

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// syntaxError says where raw stops being JSON, as line, column and byte offset, for a person fixing an
// event by hand, in encoding/json's words: its scanner is run again on this error path only (checking
// validity into a RawMessage builds no tree). What only our scanner refuses (nesting deeper than
// maxDepth) keeps the scanner's reason.
func syntaxError(raw []byte, reason string) string {
	var m json.RawMessage
	err := json.Unmarshal(raw, &m)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return reason
	}
	if se.Error() == "unexpected end of JSON input" {
		last := max(len(bytes.TrimRight(raw, " \t\r\n"))-1, 0)
		line, col := position(raw, last)
		return fmt.Sprintf("it stops after line %d, column %d (byte %d) before the JSON is complete (a value, a closing quote, brace or bracket is missing)", line, col, last)
	}
	// The offset is just past the byte the scanner stopped at: that byte is what a person looks for.
	at := min(max(int(se.Offset)-1, 0), len(raw))
	line, col := position(raw, at)
	return fmt.Sprintf("%s at line %d, column %d (byte %d)", se.Error(), line, col, at)
}

// position is the 1-based line and column (in bytes) of offset off in raw.
func position(raw []byte, off int) (line, col int) {
	return 1 + bytes.Count(raw[:off], []byte{'\n'}), off - bytes.LastIndexByte(raw[:off], '\n')
}
